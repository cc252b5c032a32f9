"""A real django-q2 worker cluster (`manage.py qcluster`) for tests, on the test database and
the same broker (ORM or Redis) as the test process. Registered in tests/conftest.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def _group_running(pgid: int) -> bool:
    """Whether a process of this process group is alive (zombies have closed their files)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid pgrp …: comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


@dataclass
class WorkerCluster:
    """Handle on a running qcluster: kill it (as a crash would), start another, read its log."""

    log_path: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *, wait: bool = True) -> subprocess.Popen[bytes]:
        handle = self.log_path.open("ab")
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.processes.append(proc)
        if wait:
            self.wait_ready(proc)
        return proc

    def wait_ready(self, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
        from django_q.status import Stat

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}:\n{self.log()}")
            if any(stat.status in ("Idle", "Working") for stat in Stat.get_all()):
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout_s} s:\n{self.log()}")

    def kill(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        """SIGKILL the whole process group: no clean-up, like a machine dying. Returns when no
        process of the group runs any more (not only its leader): a worker still exiting keeps
        its broker connection open, and Redis hands a blocked BLPOP of that connection the next
        task, which is then lost with it (what the reaper's resend sweep is for, minutes later)."""
        for p in [proc] if proc else list(self.processes):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            deadline = time.monotonic() + 10
            while _group_running(p.pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.processes:
            try:
                # Tests do not need a graceful drain; a cluster that lingers is killed.
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-20000:] if self.log_path.exists() else ""


@pytest.fixture
def worker_cluster(transactional_db: None, tmp_path: Path) -> Iterator[WorkerCluster]:
    """Start with `worker_cluster.start()`; everything is stopped after the test."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "Q_CLUSTER_NAME": settings.Q_CLUSTER_NAME,
        "OUTPOST_VAR_DIR": str(settings.VAR_DIR),
        "OUTPOST_ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR),
        "WORKERS": os.environ.get("TEST_WORKERS", "2"),
        "SCAN_EXECUTOR": settings.SCAN_EXECUTOR,
        "RATE_LIMIT_ENABLED": "false",
        "STEP_HEARTBEAT_S": "1",
        "TOOL_IMAGE_STAGER": settings.TOOL_IMAGE_STAGER,
        # The test's stand-ins for Slack and Discord (tests/integrations/conftest.py).
        "INTEGRATIONS_SLACK_HOSTS": ",".join(settings.INTEGRATIONS_SLACK_HOSTS),
        "INTEGRATIONS_DISCORD_HOSTS": ",".join(settings.INTEGRATIONS_DISCORD_HOSTS),
        "PYTHONUNBUFFERED": "1",
    }
    cluster = WorkerCluster(log_path=tmp_path / "qcluster.log", env=env)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def worker(worker_cluster: WorkerCluster) -> WorkerCluster:
    """One running worker cluster."""
    worker_cluster.start()
    return worker_cluster


def wait_for(
    predicate: Callable[[], Any],
    *,
    timeout_s: float = 60,
    interval_s: float = 0.25,
    what: str = "condition",
) -> Any:
    """Poll until `predicate()` is truthy; fail the test with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
