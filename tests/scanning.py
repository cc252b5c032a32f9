"""Fixtures for tests that scan: local servers on 127.0.0.1, authorized targets, workflows.
Registered for the whole suite in tests/conftest.py (pytest_plugins)."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Team, User
from scans.models import Scan
from targets.models import Target
from targets.services import target_create
from tests.workers import wait_for
from workflows.models import Workflow
from workflows.services import workflow_create

# Real scanner reports (shared/data/scanner-outputs beside the repository; CI clones there too).
SCANNER_OUTPUTS = Path(
    os.environ.get("OUTPOST_SCANNER_OUTPUTS")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scanner-outputs"
)


@dataclass
class LocalHttpServer:
    """A real HTTP server on 127.0.0.1 that records the paths it served."""

    port: int
    hits: list[str] = field(default_factory=list)
    delay_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def _start_http(
    *, delay_s: float = 0.0, redirect_to: str = ""
) -> tuple[LocalHttpServer, http.server.ThreadingHTTPServer]:
    record = LocalHttpServer(port=0, delay_s=delay_s)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record.hits.append(self.path)
            if record.delay_s:
                time.sleep(record.delay_s)
            if redirect_to:
                self.send_response(302)
                self.send_header("Location", redirect_to)
                self.end_headers()
                return
            body = b"<html><head><title>Outpost test page</title></head><body>ok</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Server", "outpost-test")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    record.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return record, server


@pytest.fixture
def http_server() -> Iterator[LocalHttpServer]:
    record, server = _start_http()
    yield record
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_http_server() -> Iterator[Callable[..., LocalHttpServer]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def factory(**kwargs: Any) -> LocalHttpServer:
        record, server = _start_http(**kwargs)
        servers.append(server)
        return record

    yield factory
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def authorize(user: User, team: Team) -> Callable[..., Target]:
    def factory(value: str, kind: str | None = None, **extra: Any) -> Target:
        return target_create(
            team=team, user=user, value=value, kind=kind, note="test authorization", **extra
        )

    return factory


@pytest.fixture
def make_workflow(user: User, team: Team) -> Callable[..., Workflow]:
    def factory(
        nodes: list[dict[str, Any]],
        edges: list[tuple[str, str]] | None = None,
        name: str = "test workflow",
    ) -> Workflow:
        graph = {
            "nodes": [
                {"x": 100 * i, "y": 100, "config": {}, **node} for i, node in enumerate(nodes)
            ],
            "edges": [{"from": a, "to": b} for a, b in (edges or [])],
        }
        return workflow_create(team=team, user=user, name=name, graph=graph)

    return factory


def wait_scan_done(scan_id: int, timeout_s: float = 90) -> Scan:
    def finished() -> Scan | None:
        scan = Scan.objects.get(pk=scan_id)
        return scan if scan.is_finished else None

    return wait_for(finished, timeout_s=timeout_s, what=f"scan #{scan_id} to finish")


@pytest.fixture
def client_for(api: Callable[..., APIClient], owner_api: APIClient) -> APIClient:
    return owner_api


# --- A real DNS server -----------------------------------------------------------------------


@dataclass
class DnsZone:
    """A zone served on 127.0.0.1:`port` by Debian's dnsmasq: `records` maps a name to its A
    address (or to another name, a CNAME)."""

    port: int
    records: dict[str, str]

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"


LAB_ZONE = {
    "lab.outpost.test": "127.0.0.1",
    "www.lab.outpost.test": "lab.outpost.test",  # a CNAME
}


def _free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def dns_zone() -> Iterator[DnsZone]:
    """dnsmasq answering for LAB_ZONE on 127.0.0.1 and an unprivileged port, authoritative for
    what it knows and forwarding nothing (no upstream: nothing leaves the machine)."""
    import shutil
    import subprocess

    from tests.conftest import service_unavailable

    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(binary):
        service_unavailable("dnsmasq", "Debian's dnsmasq-base is not installed")
    port = _free_port()
    argv = [
        binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--no-poll", "--pid-file=", f"--port={port}", "--listen-address=127.0.0.1",
        "--bind-interfaces", "--user=nobody" if os.geteuid() == 0 else "--user=",
    ]  # fmt: skip
    for name, answer in LAB_ZONE.items():
        if answer[0].isdigit():
            argv.append(f"--host-record={name},{answer}")
        else:
            argv.append(f"--cname={name},{answer}")
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], port, 1.0
    deadline = time.monotonic() + 10
    while True:
        try:
            resolver.resolve("lab.outpost.test", "A")
            break
        except dns.exception.DNSException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                error = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"dnsmasq did not answer on port {port}: {error[-500:]}")
            time.sleep(0.1)
    yield DnsZone(port=port, records=dict(LAB_ZONE))
    process.terminate()
    process.wait(timeout=5)
