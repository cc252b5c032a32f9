"""Bulk writes of findings on PostgreSQL with COPY.

A scan can bring tens of thousands of findings (a Trivy report of a fat image). Django's
`bulk_create` builds and adapts one parameter per cell in Python, which costs ~50x a COPY of the
same rows; COPY streams them in PostgreSQL's text format. Used by scans.recording and
scans.triage when the database is PostgreSQL; SQLite keeps the ORM path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import connection


def chunks(values: list[str], size: int = 2000) -> Iterator[list[str]]:
    """Slices of `values`, small enough for one `IN (…)` query on every database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def json_text(value: Any) -> str:
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    # jsonb refuses the NUL escape; tools do print NUL bytes.
    return json.dumps(value, separators=(",", ":"), default=str).replace("\\u0000", "")


def copy_into(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows into `table` (names are ours, never user input). JSON cells must be given as
    text (`json_text`)."""
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def finding_states_upsert(
    *, team_id: int, severities: dict[str, str], now: Any
) -> list[tuple[str, str, Any]]:
    """Create or refresh the (team, fingerprint) triage states in one statement; returns
    (fingerprint, status, first_seen_at) for each. Rows are locked in fingerprint order, like the
    ORM path, so concurrent scans of one team queue instead of deadlocking."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS outpost_seen_fingerprints "
            "(fingerprint varchar(64) PRIMARY KEY, severity varchar(8)) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE outpost_seen_fingerprints")
    copy_into("outpost_seen_fingerprints", ["fingerprint", "severity"], sorted(severities.items()))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO scans_findingstate
                (team_id, fingerprint, status, severity, comment, updated_by_id, updated_at,
                 first_seen_at, last_seen_at)
            SELECT %s, fingerprint, 'open', severity, '', NULL, NULL, %s, %s
            FROM outpost_seen_fingerprints ORDER BY fingerprint
            ON CONFLICT (team_id, fingerprint)
            DO UPDATE SET severity = EXCLUDED.severity, last_seen_at = EXCLUDED.last_seen_at
            RETURNING fingerprint, status, first_seen_at
            """,
            [team_id, now, now],
        )
        return list(cursor.fetchall())
