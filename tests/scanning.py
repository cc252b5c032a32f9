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
