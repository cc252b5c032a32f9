"""AUTO_MIGRATE: processes started together migrate once, under the lock (migrate_locked)."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from config.management.commands.migrate_locked import ADVISORY_LOCK_KEY
from tests.deploy.conftest import connect, database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "scripts" / "container-entrypoint"
WAITING = "another process is migrating; waiting for its lock"


def _wait_for_text(logs: list[Path], text: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(text in log.read_text(errors="replace") for log in logs):
            return
        time.sleep(0.2)
    shown = "\n---\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
    pytest.fail(f"not every process logged {text!r} within {timeout_s} s:\n{shown}")


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _disk_migrations() -> int:
    from django.db.migrations.loader import MigrationLoader

    return len(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


@pytest.mark.slow
def test_two_web_processes_started_together_on_an_empty_database_migrate_once_and_both_serve(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    base_env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHON": sys.executable,
        "AUTO_MIGRATE": "true",
        "DATABASE_URL": database_url(empty_postgres_database),
        "REDIS_URL": settings.REDIS_URL,
        "Q_CLUSTER_NAME": f"migrate-test-{os.getpid()}",
        "OUTPOST_VAR_DIR": str(tmp_path / "var"),
        "ENVIRONMENT": "development",
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    logs = [tmp_path / "web-a.log", tmp_path / "web-b.log"]
    # The test holds the lock first, so both processes are seen waiting for it: the overlap the
    # lock exists for, made certain rather than left to timing.
    holder = connect(empty_postgres_database)
    holder.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
    procs = [
        _start([str(ENTRYPOINT), "web"], {**base_env, "PORT": str(port)}, log)
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        _wait_for_text(logs, WAITING)
        holder.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        holder.close()
        deadline = time.monotonic() + 120
        answered: dict[int, dict[str, object]] = {}
        while len(answered) < 2 and time.monotonic() < deadline:
            for proc, log in zip(procs, logs, strict=True):
                assert proc.poll() is None, f"a web process exited:\n{log.read_text()[-4000:]}"
            for port in ports:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                except httpx.HTTPError:
                    continue
                answered[port] = response.json()
            time.sleep(0.3)
        assert len(answered) == 2, "\n---\n".join(log.read_text()[-3000:] for log in logs)
        for body in answered.values():
            assert body["checks"]["database"]["ok"] is True  # type: ignore[index]
    finally:
        _stop(procs)

    outputs = [log.read_text(errors="replace") for log in logs]
    applied = [out for out in outputs if "Applying " in out]
    assert len(applied) == 1, "exactly one process applies migrations"
    assert sum("No migrations to apply" in out for out in outputs) == 1
    assert all("waited" in out for out in outputs), "both waited for the test's lock"
    assert not any("Traceback" in out for out in outputs), outputs
    with connect(empty_postgres_database) as db:
        rows = db.execute(
            "SELECT app, name, count(*) FROM django_migrations GROUP BY app, name"
        ).fetchall()
    assert rows and all(count == 1 for _, _, count in rows), "a migration recorded twice"
    assert len(rows) == _disk_migrations()


@pytest.mark.slow
def test_on_sqlite_the_second_process_waits_for_the_file_lock_and_finds_nothing_to_apply(
    tmp_path: Path,
) -> None:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{var_dir / 'outpost.sqlite3'}",
        "OUTPOST_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with (var_dir / "migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        procs = [
            _start([sys.executable, str(ROOT / "manage.py"), "migrate_locked"], env, log)
            for log in logs
        ]
        try:
            _wait_for_text(logs, WAITING)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    codes = [proc.wait(timeout=120) for proc in procs]
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs
    assert sum("Applying " in out for out in outputs) == 1
    assert sum("No migrations to apply" in out for out in outputs) == 1


def test_the_lock_wait_gives_up_after_the_timeout(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    holder = connect(empty_postgres_database)
    holder.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
    try:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(empty_postgres_database),
            "OUTPOST_VAR_DIR": str(tmp_path / "var"),
        }
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate_locked", "--lock-timeout", "1.5"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        holder.close()
    assert done.returncode != 0
    assert "the migration lock is still held after" in done.stderr
    assert time.monotonic() - started < 30
    with connect(empty_postgres_database) as db:
        tables = db.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,), "nothing was migrated without the lock"
