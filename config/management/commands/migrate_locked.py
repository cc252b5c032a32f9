"""`manage.py migrate_locked`: `migrate` + `createcachetable` under a lock held across processes.

Several replicas started together with AUTO_MIGRATE=true would otherwise race: two `migrate`
runs applying the same migration fail on "relation already exists" or a duplicate row in
django_migrations. Here the first process takes the lock and migrates; the others wait for it,
then find nothing left to apply.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`, polled so the wait has a
  timeout and is logged) on its own connection, so nothing Django does to its connection during
  `migrate` can release it early. The server frees it if the process dies.
- SQLite: an exclusive `flock` on a file beside the database (one machine by nature).
- Anything else: no lock, with a warning.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

# A fixed, arbitrary 64-bit key: "outpost migrate" (every Outpost process agrees on it).
ADVISORY_LOCK_KEY = 0x6F7574706F73_7401


class Command(BaseCommand):
    help = "Apply migrations once even when several processes start together (advisory lock)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=float(os.environ.get("MIGRATE_LOCK_TIMEOUT_S", "600")),
            help="give up after waiting this many seconds for another process's migration",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        started = time.monotonic()
        with self._lock(alias, options["lock_timeout"]) as waited_s:
            if waited_s:
                self.stdout.write(
                    f"migrate_locked: waited {waited_s:.1f} s for another process's migration; "
                    "checking what is left"
                )
            else:
                self.stdout.write("migrate_locked: lock acquired, migrating")
            call_command(
                "migrate", database=alias, interactive=False, verbosity=options["verbosity"]
            )
            call_command("createcachetable", database=alias, verbosity=options["verbosity"])
        self.stdout.write(
            f"migrate_locked: done in {time.monotonic() - started:.1f} s (pid {os.getpid()})"
        )

    @contextmanager
    def _lock(self, alias: str, timeout_s: float) -> Iterator[float]:
        connection = connections[alias]
        if connection.vendor == "postgresql":
            with _postgres_lock(connection, timeout_s, self._waiting) as waited:
                yield waited
        elif connection.vendor == "sqlite":
            with _file_lock(
                Path(str(settings.VAR_DIR)) / "migrate.lock", timeout_s, self._waiting
            ) as waited:
                yield waited
        else:
            self.stderr.write(
                f"migrate_locked: no lock for {connection.vendor}; migrating unlocked"
            )
            yield 0.0

    def _waiting(self) -> None:
        self.stdout.write("migrate_locked: another process is migrating; waiting for its lock")


@contextmanager
def _postgres_lock(connection: Any, timeout_s: float, on_wait: Any) -> Iterator[float]:
    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = True
    started = time.monotonic()
    try:
        waited = False
        while True:
            with raw.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
                if cursor.fetchone()[0]:
                    break
            if not waited:
                on_wait()
                waited = True
            if time.monotonic() - started > timeout_s:
                raise CommandError(f"the migration lock is still held after {timeout_s:.0f} s")
            time.sleep(0.5)
        try:
            yield (time.monotonic() - started) if waited else 0.0
        finally:
            with raw.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
    finally:
        raw.close()


@contextmanager
def _file_lock(path: Path, timeout_s: float, on_wait: Any) -> Iterator[float]:
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with path.open("a") as handle:
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    on_wait()
                    waited = True
                if time.monotonic() - started > timeout_s:
                    raise CommandError(
                        f"the migration lock is still held after {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.5)
        try:
            yield (time.monotonic() - started) if waited else 0.0
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
