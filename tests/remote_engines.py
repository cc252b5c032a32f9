"""The local Docker engine reached the two ways a worker reaches a remote one, for the tests:

- `tls_engine`: `DOCKER_HOST=tcp://127.0.0.1:<port>` with `DOCKER_TLS_VERIFY=1` and client
  certificates in `DOCKER_CERT_PATH`: a TLS relay (a CA, a server certificate for 127.0.0.1,
  client certificates required) in front of the engine's unix socket, as dockerd's `--tlsverify`;
- `ssh_engine`: `DOCKER_HOST=ssh://root@127.0.0.1:<port>`: a real OpenSSH server of the test's
  own (its host key, one authorized key) on 127.0.0.1, where the docker CLI's `dial-stdio` serves
  the API, as on a tool VM. paramiko (a dependency) is the client.

Registered in tests/conftest.py; each skips (fails in CI) without what it needs."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import service_unavailable
from tests.engine_relay import relay_pipe


@dataclass
class RemoteEngine:
    env: dict[str, str]  # what a worker using it is configured with
    folder: Path


def _engine_socket() -> str:
    engine = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not engine.startswith("unix://"):
        pytest.skip("the stand-ins relay to a unix-socket engine only")
    return engine.removeprefix("unix://")


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
    *,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def tls_engine(require_docker: object, tmp_path: Path) -> Iterator[RemoteEngine]:
    engine = _engine_socket()
    ca_key = _key()
    ca = _certificate("outpost test CA", ca_key)
    issuer = (ca.subject, ca_key)
    server_key, client_key = _key(), _key()
    server = _certificate("127.0.0.1", server_key, issuer, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client = _certificate("worker", client_key, issuer, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    certs = tmp_path / "client-certs"  # DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem
    certs.mkdir()
    (certs / "ca.pem").write_bytes(_pem(ca))
    (certs / "cert.pem").write_bytes(_pem(client))
    (certs / "key.pem").write_bytes(_pem_key(client_key))
    (tmp_path / "server.pem").write_bytes(_pem(server) + _pem_key(server_key))

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs / "ca.pem"))
    context.verify_mode = ssl.CERT_REQUIRED  # dockerd --tlsverify: no client certificate, no API
    context.load_cert_chain(str(tmp_path / "server.pem"))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handshake, args=(raw,), daemon=True).start()

    def handshake(raw: socket.socket) -> None:
        try:
            conn = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(engine)
        threading.Thread(target=relay_pipe, args=(upstream, conn), daemon=True).start()
        relay_pipe(conn, upstream)

    threading.Thread(target=serve, daemon=True).start()
    env = {
        "DOCKER_HOST": f"tcp://127.0.0.1:{port}",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(certs),
    }
    try:
        yield RemoteEngine(env=env, folder=tmp_path)
    finally:
        listener.close()


@pytest.fixture
def ssh_engine(require_docker: object, tmp_path: Path) -> Iterator[RemoteEngine]:
    _engine_socket()
    sshd, keygen = shutil.which("sshd") or "/usr/sbin/sshd", shutil.which("ssh-keygen")
    if not Path(sshd).exists() or keygen is None or shutil.which("docker") is None:
        service_unavailable("sshd", "an ssh engine needs openssh-server and the docker CLI")
    assert keygen is not None
    if os.geteuid() != 0:
        service_unavailable("sshd", "the test sshd logs in as root")
    home = tmp_path / "home"  # the worker's HOME: ~/.ssh/config, known_hosts, its key
    (home / ".ssh").mkdir(parents=True)
    server = tmp_path / "sshd"
    server.mkdir()
    for key, folder in (("host_key", server), ("id_ed25519", home / ".ssh")):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)],
                       check=True, timeout=30)  # fmt: skip
    (server / "authorized_keys").write_text((home / ".ssh" / "id_ed25519.pub").read_text())
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    (server / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1:{port}\nHostKey {server / 'host_key'}\n"
        f"AuthorizedKeysFile {server / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        f"StrictModes no\nPidFile {server / 'sshd.pid'}\nSetEnv DOCKER_HOST=unix://{_engine_socket()}\n"
        "AcceptEnv none\nLogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    proc = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(server / "sshd_config")],
        stdout=subprocess.DEVNULL, stderr=(server / "sshd.log").open("wb"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                service_unavailable("sshd", (server / "sshd.log").read_text()[-500:])
            time.sleep(0.1)
        host_key = (server / "host_key.pub").read_text().split()
        (home / ".ssh" / "known_hosts").write_text(
            f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n"
        )
        (home / ".ssh" / "config").write_text(
            f"Host 127.0.0.1\n  IdentityFile {home / '.ssh' / 'id_ed25519'}\n"
        )
        env = {"DOCKER_HOST": f"ssh://root@127.0.0.1:{port}", "HOME": str(home)}
        yield RemoteEngine(env=env, folder=tmp_path)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
