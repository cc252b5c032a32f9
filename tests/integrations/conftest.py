"""Fixtures for the integrations tests. The fakes of this suite are `receiver`: a real HTTP
server on 127.0.0.1 that stands in for Slack, Discord and a webhook endpoint, answers with the
status codes a test queues, and records every request it got; and `smtp_server`, a real SMTP
listener on 127.0.0.1 that stands in for a mail relay. The scanning fixtures
(`authorize`, `make_workflow`, `http_server`) come from tests/scanning.py."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Team, User
from integrations.models import Integration
from integrations.services import integration_create
from scans.engine.runtime import FindingData
from scans.findings.storage import findings_store, scan_counts_refresh
from scans.models import Scan, ScanStatus

SIGNING_SECRET = "correct-horse-battery-staple-0123"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the local receiver got. `answers` are status codes used in order (then 200)."""

    port: int
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    delay_s: float = 0.0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout_s: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.to(path)
            if len(got) >= count:
                return got
            time.sleep(0.1)
        pytest.fail(f"receiver got {len(self.to(path))} request(s) on {path}, expected {count}")


@pytest.fixture(autouse=True)
def _receiver_stands_in_for_slack_and_discord(settings: Any) -> None:
    """The local receiver plays Slack and Discord, whose integrations post only to their own
    hosts (tests/integrations/test_outbound_ssrf.py checks those defaults)."""
    settings.INTEGRATIONS_SLACK_HOSTS = [*settings.INTEGRATIONS_SLACK_HOSTS, "127.0.0.1"]
    settings.INTEGRATIONS_DISCORD_HOSTS = [*settings.INTEGRATIONS_DISCORD_HOSTS, "127.0.0.1"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    record = Receiver(port=0)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with lock:
                record.requests.append(Received(self.path, dict(self.headers.items()), body))
                status = record.answers.pop(0) if record.answers else 200
            if record.delay_s:
                time.sleep(record.delay_s)
            # Like many servers, an error answer quotes the path (a webhook's secret part).
            answer = b"ok" if status < 400 else f"Cannot POST {self.path}".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    record.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield record
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server() -> Iterator[dict[str, Any]]:
    """A minimal SMTP server on 127.0.0.1 (the e-mail integration's receiver): it answers MAIL
    FROM with the queued `mail_codes` (then 250), counts the `messages` it accepted and keeps
    each one's bytes in `received` (SMTP's dot-stuffing undone)."""
    state: dict[str, Any] = {"mail_codes": [], "messages": 0, "received": []}

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 outpost-test ESMTP\r\n")
            data: list[bytes] | None = None
            for raw in self.rfile:
                line = raw.rstrip(b"\r\n")
                if data is not None:
                    if line == b".":
                        state["received"].append(b"\r\n".join(data))
                        state["messages"] += 1
                        data = None
                        self.wfile.write(b"250 queued\r\n")
                    else:
                        data.append(line[1:] if line.startswith(b"..") else line)
                    continue
                verb = line.decode(errors="replace").split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.wfile.write(b"250 outpost-test\r\n")
                elif verb == "MAIL":
                    code = state["mail_codes"].pop(0) if state["mail_codes"] else 250
                    self.wfile.write(f"{code} sender answer\r\n".encode())
                elif verb in ("RCPT", "RSET", "NOOP"):
                    self.wfile.write(b"250 ok\r\n")
                elif verb == "DATA":
                    data = []
                    self.wfile.write(b"354 go ahead\r\n")
                elif verb == "QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["port"] = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_integration(user: User, team: Team) -> Callable[..., Integration]:
    def factory(kind: str, url: str = "", name: str = "", **extra: Any) -> Integration:
        if kind == "webhook":
            extra.setdefault("signing_secret", SIGNING_SECRET)
        if kind == "email":
            extra.setdefault("recipients", ["secops@example.test"])
        return integration_create(
            team=extra.pop("team", team), user=user, kind=kind, name=name or f"{kind} channel",
            webhook_url=url, **extra,
        )  # fmt: skip

    return factory


def finding(
    severity: str, title: str, location: str = "127.0.0.1:443", **extra: Any
) -> FindingData:
    return FindingData(
        tool="nuclei", severity=severity, title=title, rule_id=extra.pop("rule_id", title.lower()[:40]),
        location=location, **extra,
    )  # fmt: skip


@pytest.fixture
def finished_scan(team: Team, user: User) -> Callable[..., Scan]:
    """A completed scan of the team holding `findings`, stored by the engine's own recording
    service (what a finished workflow leaves behind)."""

    def factory(
        findings: list[FindingData], *, scan_team: Team | None = None, **fields: Any
    ) -> Scan:
        now = timezone.now()
        scan = Scan.objects.create(
            team=scan_team or team, workflow_name=fields.pop("workflow_name", "nightly recon"),
            status=fields.pop("status", ScanStatus.COMPLETED), requested_by=user, has_consent=True,
            target_snapshot=[{"kind": "domain", "value": "example.test"}], targets_key="k",
            started_at=now, finished_at=now, **fields,
        )  # fmt: skip
        findings_store(scan=scan, step=None, findings=findings)
        scan_counts_refresh(scan)
        return scan

    return factory
