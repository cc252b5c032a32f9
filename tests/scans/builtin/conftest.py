"""Real servers on loopback for the built-in tool tests: HTTP(S) with scripted routes that count
their hits, a bare TLS server, and certificates made with `cryptography`."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

# --- Certificates ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def rsa_key(bits: int = 2048, which: int = 0) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: each (size, which) is made once per test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@dataclass
class Certificate:
    cert_path: Path
    key_path: Path
    cert: x509.Certificate


def make_certificate(
    folder: Path,
    *,
    common_name: str = "outpost.test",
    dns_names: tuple[str, ...] = ("outpost.test",),
    ip_addresses: tuple[str, ...] = (),
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    key_bits: int = 2048,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    name: str = "server",
) -> Certificate:
    """A certificate for a test server: self-signed unless `issuer` (a CA and its key) is given."""
    now = dt.datetime.now(dt.UTC)
    key = rsa_key(key_bits)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from or now - dt.timedelta(days=1))
        .not_valid_after(valid_until or now + dt.timedelta(days=365))
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path, cert)


def make_ca(folder: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa_key(2048, which=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Outpost Test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=10))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def server_tls_context(
    certificate: Certificate, *, minimum: str = "TLSv1_2", maximum: str = "MAXIMUM_SUPPORTED"
) -> ssl.SSLContext:
    """A server context; versions are ssl.TLSVersion member names ("TLSv1", "TLSv1_2"…)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    key_bits = certificate.cert.public_key().key_size  # type: ignore[union-attr]
    if minimum in {"TLSv1", "TLSv1_1"} or key_bits < 2048:
        context.set_ciphers("ALL:@SECLEVEL=0")  # let OpenSSL 3 speak the old protocols / small keys
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 servers are the point
        context.minimum_version = getattr(ssl.TLSVersion, minimum)
        context.maximum_version = getattr(ssl.TLSVersion, maximum)
    context.load_cert_chain(certificate.cert_path, certificate.key_path)
    return context


# --- HTTP(S) servers --------------------------------------------------------------------------

Route = tuple[int, dict[str, str], bytes]  # status, headers, body


@dataclass
class WebServer:
    """A threaded HTTP server on loopback; `routes` maps a path to its answer, `hits` counts
    requests per path (and "*" for all)."""

    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None
    routes: dict[str, Route] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    connections: int = 0

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "outpost-test/1.0"
            sys_version = ""

            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                server.hits["*"] = server.hits.get("*", 0) + 1
                status, headers, body = server.routes.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value.replace("{port}", str(server.port)))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            daemon_threads = True

            def get_request(inner) -> tuple[socket.socket, object]:  # type: ignore[no-untyped-def]
                conn, address = inner.socket.accept()
                server.connections += 1
                if server.tls is not None:
                    conn = server.tls.wrap_socket(
                        conn, server_side=True, do_handshake_on_connect=False
                    )
                return conn, address

            def handle_error(inner, request: object, client_address: object) -> None:  # type: ignore[no-untyped-def]
                pass  # a client that hung up or failed the TLS handshake (the http probe of an https port)

        self.server = Server((self.host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def origin(self) -> str:
        scheme = "https" if self.tls else "http"
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{shown}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def web_server() -> Iterator[Callable[..., WebServer]]:
    made: list[WebServer] = []

    def factory(**options: object) -> WebServer:
        server = WebServer(**options)  # type: ignore[arg-type]
        made.append(server)
        return server

    yield factory
    for server in made:
        server.close()


# --- A bare TLS server ------------------------------------------------------------------------


class TlsServer:
    """Completes TLS handshakes on loopback (and closes); counts successful handshakes."""

    def __init__(self, context: ssl.SSLContext, host: str = "127.0.0.1") -> None:
        self.context = context
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind((host, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.handshakes = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    self.handshakes += 1
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                conn.close()

    def wait_for_handshakes(self, count: int, within_s: float = 2.0) -> int:
        """The handshake count once it reaches `count` (the server side finishes after the
        client), or after `within_s`; then a moment more to catch any extra one."""
        deadline = time.monotonic() + within_s
        while self.handshakes < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        return self.handshakes

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def tls_server() -> Iterator[Callable[..., TlsServer]]:
    made: list[TlsServer] = []

    def factory(context: ssl.SSLContext, host: str = "127.0.0.1") -> TlsServer:
        server = TlsServer(context, host)
        made.append(server)
        return server

    yield factory
    for server in made:
        server.close()


# --- A DNS server -----------------------------------------------------------------------------


class DnsServer:
    """An authoritative-looking UDP DNS server on loopback answering from `zone`
    ({(name, type): [rdata text]}); names it does not know get NXDOMAIN. Counts queries."""

    def __init__(self, zone: dict[tuple[str, str], list[str]], host: str = "127.0.0.1") -> None:
        import dns.message
        import dns.rcode
        import dns.rrset

        self.zone = {
            (name.rstrip(".").lower() + ".", kind.upper()): values
            for (name, kind), values in zone.items()
        }
        self.queries: list[tuple[str, str]] = []
        self.sock = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM
        )
        self.sock.bind((host, 0))
        self.address = (
            f"[{host}]:{self.sock.getsockname()[1]}"
            if ":" in host
            else f"{host}:{self.sock.getsockname()[1]}"
        )
        known_names = {name for name, _ in self.zone}

        def serve() -> None:
            while True:
                try:
                    wire, client = self.sock.recvfrom(4096)
                except OSError:
                    return
                query = dns.message.from_wire(wire)
                question = query.question[0]
                name, kind = str(question.name).lower(), dns.rdatatype.to_text(question.rdtype)
                self.queries.append((name, kind))
                response = dns.message.make_response(query)
                if name not in known_names:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                elif (name, kind) in self.zone:
                    response.answer.append(
                        dns.rrset.from_text_list(name, 60, "IN", kind, self.zone[(name, kind)])
                    )
                self.sock.sendto(response.to_wire(), client)

        import dns.rdatatype

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dns_server() -> Iterator[Callable[..., DnsServer]]:
    made: list[DnsServer] = []

    def factory(zone: dict[tuple[str, str], list[str]], host: str = "127.0.0.1") -> DnsServer:
        server = DnsServer(zone, host)
        made.append(server)
        return server

    yield factory
    for server in made:
        server.close()
