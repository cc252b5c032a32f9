"""The outside fault campaign, kept in the suite: a whole deployment of its own — a PostgreSQL and
a Redis that this test starts on their own ports (never the shared ones), migrated, with a real
django-q2 worker — runs scans while its parts fail under it, and every scan still completes:

- PostgreSQL restarted while a step runs (the step is re-queued without using an attempt);
- Redis (the broker and the cache) restarted while a step runs;
- the worker killed (SIGKILL, its whole process group) while a step runs: the reaper of a new
  worker re-queues the step once it stops heart-beating;
- two deployments (that one and this test's database) run container tool steps on one Docker
  engine at the same time while both reapers sweep, and neither loses a container.

The step is an HTTP probe of a server in this process that holds each answer a few seconds, so
each fault lands mid-step. Nothing here uses the test database: the deployment is driven through
its own `manage.py` processes and read with psycopg."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import service_unavailable
from tests.scanning import LocalHttpServer, _start_http

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow]

SETUP = """
from accounts.services import user_register
from scans.services import scan_start
from targets.services import target_create
from workflows.services import workflow_create
user = user_register(email="{email}", password="correct horse battery 9")
team = user.personal_team
target = target_create(team=team, user=user, value="{url}", note="the test's own server")
graph = {{"nodes": [{{"id": "web", "type": "http_probe", "config": {{"schemes": "http"}},
                      "x": 0, "y": 0}}], "edges": []}}
workflow = workflow_create(team=team, user=user, name="faults", graph=graph)
for _ in range({scans}):
    print("SCAN", scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk],
                             consent=True).pk)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: Any, *, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (psycopg.OperationalError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster of this test's own (initdb as the `postgres` user), on its own port."""

    data: Path
    port: int

    def start(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(self.data), "-w", "-l",
             str(self.data / "server.log"), "-o", f"-p {self.port} -k {self.data} "
             "-c listen_addresses=127.0.0.1 -c fsync=off", "start"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(self.data), "-w", "-m",
             "fast", "stop"],
            check=False, capture_output=True, timeout=60,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/outpost"


@dataclass
class OwnRedis:
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait(lambda: socket.create_connection(("127.0.0.1", self.port), 1), timeout_s=20,
              what="redis to listen")  # fmt: skip

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    if shutil.which("pg_ctl") is None or shutil.which("initdb") is None:
        service_unavailable("postgres", "pg_ctl and initdb are needed to start an own cluster")
    # Not under pytest's tmp_path: its folders are the test runner's alone, and PostgreSQL
    # refuses to run as root, so the cluster belongs to the `postgres` user.
    home = Path(tempfile.mkdtemp(prefix="outpost-faults-pg-"))
    data = home / "data"
    data.mkdir()
    home.chmod(0o755)
    shutil.chown(data, "postgres", "postgres")
    try:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "initdb", "-D", str(data), "-A", "trust", "-U",
             "postgres"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        server = OwnPostgres(data=data, port=_free_port())
        server.start()
        with psycopg.connect(
            f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE outpost")
        yield server
        server.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        service_unavailable("redis", "redis-server is needed to start an own instance")
    server = OwnRedis(port=_free_port())
    server.start()
    yield server
    server.stop()


@dataclass
class Deployment:
    env: dict[str, str]
    database: OwnPostgres
    log: Path
    workers: list[subprocess.Popen[bytes]]

    def manage(self, *args: str, timeout_s: float = 300) -> str:
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def start_worker(self) -> subprocess.Popen[bytes]:
        handle = self.log.open("ab")
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: subprocess.Popen[bytes]) -> None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        _wait(lambda: not _group_alive(worker.pid), timeout_s=30, what="the worker to be gone")

    def query(self, sql: str, *params: Any) -> Any:
        dsn = f"host=127.0.0.1 port={self.database.port} user=postgres dbname=outpost"
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            return conn.execute(sql, params).fetchone()

    def step_of(self, scan_id: int) -> tuple[str, int, int]:
        row = self.query(
            "SELECT status, attempt, infra_retries FROM scans_scanstep WHERE scan_id = %s",
            scan_id,
        )
        return (str(row[0]), int(row[1]), int(row[2]))

    def wait_done(self, scan_id: int, timeout_s: float = 150) -> str:
        def finished() -> str | None:
            row = self.query("SELECT status, error FROM scans_scan WHERE id = %s", scan_id)
            return f"{row[0]} {row[1]}".strip() if row[0] in ("completed", "failed") else None

        return str(_wait(finished, timeout_s=timeout_s, what=f"scan #{scan_id} to finish"))


def _group_alive(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


@pytest.fixture
def deployment(
    own_postgres: OwnPostgres, own_redis: OwnRedis, tmp_path: Path
) -> Iterator[Deployment]:
    env = {
        **os.environ,
        "DATABASE_URL": own_postgres.url,
        "REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0",
        "Q_CLUSTER_NAME": f"faults-{uuid.uuid4().hex[:8]}",
        "SCAN_EXECUTOR": "local",
        "RATE_LIMIT_ENABLED": "false",
        "STEP_HEARTBEAT_S": "1",
        "STEP_STALE_AFTER_S": "4",
        "OUTPOST_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    deployment = Deployment(env=env, database=own_postgres, log=tmp_path / "worker.log", workers=[])
    deployment.manage("migrate", "--no-input")
    yield deployment
    for worker in deployment.workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)


@pytest.fixture
def slow_server() -> Iterator[LocalHttpServer]:
    record, server = _start_http(delay_s=6)
    yield record
    server.shutdown()
    server.server_close()


def _scans(deployment: Deployment, server: LocalHttpServer, count: int) -> list[int]:
    code = SETUP.format(url=server.url, scans=count, email=f"{uuid.uuid4().hex[:12]}@example.test")
    out = deployment.manage("shell", "--no-imports", "-c", code)
    return [int(line.split()[1]) for line in out.splitlines() if line.startswith("SCAN ")]


def _running(deployment: Deployment, scan_id: int) -> bool:
    return deployment.step_of(scan_id)[0] == "running"


def test_scans_complete_through_database_and_broker_restarts_and_a_killed_worker(
    deployment: Deployment, own_redis: OwnRedis, slow_server: LocalHttpServer
) -> None:
    [first] = _scans(deployment, slow_server, 1)
    worker = deployment.start_worker()

    # 1. PostgreSQL restarted while the first scan's probe waits on the slow server.
    _wait(lambda: _running(deployment, first), timeout_s=60, what="scan 1's step to run")
    _wait(lambda: slow_server.hits, timeout_s=30, what="the probe to reach the server")
    deployment.database.stop()
    time.sleep(2)
    deployment.database.start()
    assert deployment.wait_done(first) == "completed", deployment.log.read_text()[-4000:]
    assert deployment.step_of(first)[1] <= 2  # a restart is not a tool failure

    # 2. Redis (broker and cache) restarted while the second scan's step runs.
    [second] = _scans(deployment, slow_server, 1)
    _wait(lambda: _running(deployment, second), timeout_s=60, what="scan 2's step to run")
    own_redis.stop()
    time.sleep(2)
    own_redis.start()
    assert deployment.wait_done(second) == "completed", deployment.log.read_text()[-4000:]

    # 3. The worker killed mid-step; a new worker's reaper re-queues the step.
    [third] = _scans(deployment, slow_server, 1)
    _wait(lambda: _running(deployment, third), timeout_s=60, what="scan 3's step to run")
    deployment.kill_worker(worker)
    deployment.start_worker()
    assert deployment.wait_done(third, timeout_s=180) == "completed", deployment.log.read_text()[
        -4000:
    ]
    assert deployment.step_of(third)[1] >= 2  # it ran again after the kill


REAP_LOOP = """
import time
from django.conf import settings
from scans.engine.reaper import reap_stale_steps
settings.REAPER_ORPHAN_MIN_AGE_S = 0
deadline = time.monotonic() + {seconds}
while time.monotonic() < deadline:
    reap_stale_steps()
    time.sleep(0.1)
"""


@pytest.mark.django_db(transaction=True)
def test_two_deployments_on_one_docker_engine_run_tool_steps_while_both_reapers_sweep(
    deployment: Deployment,
    require_docker: Any,
    settings: Any,
    user: Any,
    team: Any,
    authorize: Any,
    make_workflow: Any,
    http_server: LocalHttpServer,
) -> None:
    """This test's database is one deployment, the deployment fixture's another (its own
    PostgreSQL, so its own deployment id); both run an nmap container step at the same time
    while each one's reaper sweeps orphans without a grace period. Before the deployment label,
    each reaper removed the other's running container ("exit code 137", "No such container")."""
    import threading

    from scans.engine.reaper import reap_stale_steps
    from scans.engine.step import step_run
    from scans.models import Scan, ScanStep
    from scans.services import scan_start
    from tests.scans.tools.conftest import build_test_images

    build_test_images()
    for name, value in (
        ("SCAN_EXECUTOR", "docker"),
        ("TOOL_IMAGE_NMAP", "outpost-test/nmap:1"),
        ("TOOL_NETWORK_NMAP", "host"),
        ("TOOL_IMAGE_STAGER", "outpost-test/busybox:1"),
        ("TOOL_IMAGE_CACHE_INIT", "outpost-test/busybox:1"),
    ):
        deployment.env[name] = value
    settings.SCAN_EXECUTOR = "docker"
    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "nmap": "outpost-test/nmap:1"}
    settings.TOOL_NETWORK = {**settings.TOOL_NETWORK, "nmap": "host"}
    settings.REAPER_ORPHAN_MIN_AGE_S = 0
    nmap = [{"id": "nmap", "type": "nmap", "config": {"ports": str(http_server.port)}}]

    theirs = [
        int(line.split()[1])
        for line in deployment.manage(
            "shell", "--no-imports", "-c",
            SETUP.replace('"type": "http_probe", "config": {{"schemes": "http"}}',
                          f'"type": "nmap", "config": {{{{"ports": "{http_server.port}"}}}}')
            .replace('value="{url}"', 'value="127.0.0.1"')
            .format(url="", scans=3, email=f"{uuid.uuid4().hex[:12]}@example.test"),
        ).splitlines()
        if line.startswith("SCAN ")
    ]  # fmt: skip
    their_reaper = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c",
         REAP_LOOP.format(seconds=60)],
        cwd=ROOT, env=deployment.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    stop = threading.Event()

    def our_reaper() -> None:
        while not stop.is_set():
            reap_stale_steps()
            time.sleep(0.1)

    sweeper = threading.Thread(target=our_reaper)
    deployment.start_worker()
    sweeper.start()
    try:
        ours = []
        target = authorize("127.0.0.1")
        workflow = make_workflow(nmap)
        for _ in range(3):
            scan = scan_start(
                team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True
            )
            ours.append(scan.pk)
            assert step_run(ScanStep.objects.get(scan=scan).pk) == "completed", (
                ScanStep.objects.get(scan=scan).error
            )
        for scan_id in theirs:
            assert deployment.wait_done(scan_id, timeout_s=120) == "completed", deployment.query(
                "SELECT error FROM scans_scanstep WHERE scan_id = %s", scan_id
            )
    finally:
        stop.set()
        sweeper.join()
        their_reaper.terminate()
        their_reaper.wait(timeout=30)
    assert all(Scan.objects.get(pk=pk).status == "completed" for pk in ours)
