"""The infrastructure under a step failing for a moment is not the step's failure (issue #21,
item 4): the database dropping its connections mid-step, or the Docker engine being away, queues
the step again with backoff without using one of its attempts, and the scan then completes.
Before, a database restart failed the step at once ("internal error: OperationalError: server
closed the connection", attempt 1 of 3). The restart of whole servers (PostgreSQL, Redis, the
worker) is tests/faults/test_fault_campaign.py."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import docker
import psycopg
import pytest
import requests
from django.db import OperationalError, connection
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import Team, User
from scans.engine.executors import forget_auto_decision
from scans.engine.faults import is_infrastructure_fault
from scans.engine.step import step_run
from scans.models import Scan, ScanLog, ScanStep
from scans.services import scan_start
from tests.engine_relay import relay_serve
from tests.scans.tools.conftest import build_test_images

pytestmark = [pytest.mark.django_db(transaction=True)]


def _start(user: User, team: Team, workflow: Any, target: Any) -> Scan:
    return scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)


def _run_again_when_due(step: ScanStep) -> str:
    """What the one-off schedule of the retry does when its time comes."""
    assert Schedule.objects.filter(func="scans.tasks.step_run", args=repr((step.pk,))).exists(), (
        "the retry was not handed to the scheduler"
    )
    ScanStep.objects.filter(pk=step.pk).update(not_before=timezone.now())
    return step_run(step.pk)


def test_the_faults_of_the_database_broker_and_engine_are_told_from_tool_errors() -> None:
    try:
        docker.DockerClient(base_url="unix:///nonexistent/docker.sock").ping()
    except docker.errors.DockerException as exc:
        engine_away: BaseException = exc
    assert is_infrastructure_fault(engine_away)
    assert is_infrastructure_fault(OperationalError("server closed the connection unexpectedly"))
    assert is_infrastructure_fault(requests.ConnectionError("Connection aborted."))
    assert not is_infrastructure_fault(ValueError("not an nmap XML report"))
    assert not is_infrastructure_fault(docker.errors.ImageNotFound("no such image"))


@pytest.fixture
def server_that_drops_the_database(require_postgres: None) -> Iterator[Any]:
    """An HTTP server whose first request terminates every other connection to the test
    database (as a PostgreSQL restart does to the worker's), then answers."""
    settings_dict = connection.settings_dict
    dropped: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not dropped:
                with psycopg.connect(
                    host=settings_dict.get("HOST") or "127.0.0.1",
                    port=int(settings_dict.get("PORT") or 5432),
                    user=settings_dict.get("USER") or "postgres",
                    password=settings_dict.get("PASSWORD") or None,
                    dbname=settings_dict["NAME"],
                    autocommit=True,
                ) as killer:
                    rows = killer.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    ).fetchall()
                    dropped.append(len(rows))
            body = b"<html><head><title>still here</title></head><body>ok</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.dropped = dropped  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


def test_a_database_dropping_its_connections_mid_step_requeues_the_step_without_using_an_attempt(
    server_that_drops_the_database: Any,
    user: User,
    team: Team,
    authorize: Callable[..., Any],
    make_workflow: Callable[..., Any],
) -> None:
    port = server_that_drops_the_database.server_address[1]
    target = authorize(f"http://127.0.0.1:{port}/")
    workflow = make_workflow([{"id": "web", "type": "http_probe", "config": {"schemes": "http"}}])
    scan = _start(user, team, workflow, target)
    step = ScanStep.objects.get(scan=scan)

    outcome = step_run(step.pk)

    connection.close()  # the test's own connection was dropped with the others
    assert server_that_drops_the_database.dropped and server_that_drops_the_database.dropped[0] >= 1
    step.refresh_from_db()
    assert outcome == "retrying", step.error
    assert (step.status, step.attempt, step.infra_retries) == ("queued", 0, 1)
    assert step.error.startswith("infrastructure: ")
    assert ScanLog.objects.filter(scan=scan, message__contains="no attempt used").exists()

    assert _run_again_when_due(step) == "completed"
    step.refresh_from_db()
    scan.refresh_from_db()
    assert scan.status == "completed", scan.error
    assert (step.attempt, step.items_out) == (1, 1)


class _EngineSocket:
    """A unix socket standing in for the Docker engine's: absent (the engine is away) until
    `come_back()`, then a relay to the real engine."""

    def __init__(self, path: Path, engine: str) -> None:
        self.path, self.engine = path, engine
        self.listener: socket.socket | None = None

    def come_back(self) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(16)
        relay_serve(self.listener, self.engine)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()


@pytest.fixture
def engine_away(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> Iterator[_EngineSocket]:
    if "require_docker" in request.fixturenames:  # asked of the real engine, before it "goes"
        request.getfixturevalue("require_docker")
        build_test_images()
    settings.SCAN_EXECUTOR = "docker"
    forget_auto_decision()
    engine = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    path = tmp_path / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    stand_in = _EngineSocket(path, engine.removeprefix("unix://"))
    yield stand_in
    stand_in.close()


def _nmap_scan(
    user: User,
    team: Team,
    authorize: Callable[..., Any],
    make_workflow: Callable[..., Any],
    port: int,
) -> ScanStep:
    target = authorize("127.0.0.1")
    workflow = make_workflow(
        [{"id": "nmap", "type": "nmap", "config": {"ports": str(port), "version_detection": False}}]
    )
    return ScanStep.objects.get(scan=_start(user, team, workflow, target))


def test_a_docker_engine_that_is_away_for_a_moment_does_not_fail_the_step(
    require_docker: Any,
    engine_away: _EngineSocket,
    settings: Any,
    user: User,
    team: Team,
    authorize: Callable[..., Any],
    make_workflow: Callable[..., Any],
    http_server: Any,
) -> None:
    if not engine_away.engine.startswith("/"):
        pytest.skip("the relay stands in for a unix-socket engine only")
    images = build_test_images()  # built by engine_away, while the engine was reachable
    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "nmap": images["nmap"]}
    settings.TOOL_NETWORK = {**settings.TOOL_NETWORK, "nmap": "host"}
    step = _nmap_scan(user, team, authorize, make_workflow, http_server.port)

    assert step_run(step.pk) == "retrying"
    step.refresh_from_db()
    assert (step.status, step.attempt, step.infra_retries) == ("queued", 0, 1)
    assert "docker engine error" in step.error

    engine_away.come_back()
    assert _run_again_when_due(step) == "completed"
    step.refresh_from_db()
    assert step.findings_count >= 1 and step.executor == "docker"
    assert Scan.objects.get(pk=step.scan_id).status == "completed"


def test_an_engine_that_stays_away_fails_the_step_after_the_retry_budget_naming_the_fault(
    engine_away: _EngineSocket,
    settings: Any,
    user: User,
    team: Team,
    authorize: Callable[..., Any],
    make_workflow: Callable[..., Any],
) -> None:
    settings.STEP_INFRA_RETRIES = 1
    step = _nmap_scan(user, team, authorize, make_workflow, 9)

    assert step_run(step.pk) == "retrying"
    assert _run_again_when_due(step) == "failed"

    step.refresh_from_db()
    assert step.status == "failed"
    assert "docker engine error" in step.error and "still failing after 1 retries" in step.error
    assert step.attempt == 1  # the tool itself was never tried: no attempt was used up
    assert Scan.objects.get(pk=step.scan_id).status == "failed"
