"""Bulk writes of findings on PostgreSQL with COPY.

A scan can bring tens of thousands of findings (a Trivy report of a fat image). Django's
`bulk_create` builds and adapts one parameter per cell in Python, which costs ~50x a COPY of the
same rows; COPY streams them in PostgreSQL's text format. Used by scans.findings.storage and
scans.findings.triage when the database is PostgreSQL; SQLite keeps the ORM path.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection


def chunks(values: list[str], size: int = 2000) -> Iterator[list[str]]:
    """Slices of `values`, small enough for one `IN (…)` query on every database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for bulk work. Tens of thousands of fresh findings,
    rows and JSON texts are alive at once; every collection would walk all of them again (it
    made parsing 20,000 Trivy vulnerabilities about twice as slow, and storing them a sixth
    slower). They hold no cycles, so reference counting frees them; collection resumes after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def json_text(value: Any) -> str:
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    text = _ENCODER.encode(value)
    # jsonb refuses the NUL escape; tools do print NUL bytes.
    return text.replace("\\u0000", "") if "\\u0000" in text else text


def timestamp_text(moment: datetime) -> str:
    """A time as COPY's text for a timestamp cell. Every row of a bulk write carries the same
    few times: written once as text, instead of psycopg adapting the datetime again in every
    row (which was half of what writing 70,000 asset rows cost on the client)."""
    return moment.isoformat()


def copy_into(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows into `table` (names are ours, never user input). JSON cells must be given as
    text (`json_text`)."""
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    # The psycopg cursor is used directly: its errors are turned into Django's (IntegrityError…)
    # here, as Django's own cursor wrapper would.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _joined(values: list[str]) -> str:
    """One comma-joined text for the server to split (string_to_array): fingerprints are hex
    digests, severities known words."""
    text = ",".join(values)
    if text.count(",") != len(values) - 1:
        raise ValueError("values sent as one comma-joined text cannot contain commas")
    return text


def finding_states_upsert(
    *,
    team_id: int,
    fingerprints: list[str],
    severities: list[str],
    now: Any,
    meanwhile: Callable[[], object] | None = None,
) -> list[tuple[str, str, Any]]:
    """Create or refresh the (team, fingerprint) triage states in one statement. Rows are
    locked in fingerprint order, like the ORM path, so concurrent scans of one team queue
    instead of deadlocking.

    The lists go as two comma-joined texts that the server splits (fingerprints are hex digests,
    severities known words): adapting 40,000 strings as arrays on the client took longer.

    `meanwhile` runs while the server works on the statement (it is sent in pipeline mode and
    its result read afterwards): the caller's own preparation costs no extra time.

    Returns (fingerprint, status, first_seen_at) only for the states that existed before: a
    state created now is ("open", now), which the caller knows without 20,000 rows coming back."""
    if not fingerprints:
        return []
    if len(severities) != len(fingerprints):
        raise ValueError("fingerprints and severities must be as many")
    fps_text, severities_text = _joined(fingerprints), _joined(severities)
    connection.ensure_connection()
    with connection.connection.pipeline(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH seen AS (
                INSERT INTO scans_findingstate
                    (team_id, fingerprint, status, severity, comment, updated_by_id, updated_at,
                     first_seen_at, last_seen_at)
                SELECT %s, s.fingerprint, 'open', s.severity, '', NULL, NULL, %s, %s
                FROM unnest(string_to_array(%s, ','), string_to_array(%s, ','))
                    AS s (fingerprint, severity)
                ORDER BY s.fingerprint
                ON CONFLICT (team_id, fingerprint)
                DO UPDATE SET severity = EXCLUDED.severity, last_seen_at = EXCLUDED.last_seen_at
                RETURNING fingerprint, status, first_seen_at
            )
            SELECT fingerprint, status, first_seen_at FROM seen
            WHERE status <> 'open' OR first_seen_at <> %s
            """,
            [team_id, now, now, fps_text, severities_text, now],
        )
        if meanwhile is not None:
            meanwhile()
        return list(cursor.fetchall())


def findings_demote(*, team_id: int, scan_id: int, fingerprints: list[str]) -> int:
    """The team's rows of these fingerprints outside `scan` stop being their latest occurrence
    (the scan's own rows just took over). One statement, driven by the fingerprints: each is
    looked up in the (team, fingerprint, scan) index, and the rows found are updated by id.

    The ORM's `fingerprint IN (…) AND is_latest` let the planner pick a partial list index
    instead and read every latest row of the team for each batch of fingerprints: with the
    statistics not yet caught up after a large import, re-importing a 20,000-finding report
    over 100,000 latest rows spent ~1.7 s here, against ~0.6 s for this. `OFFSET 0` keeps the
    per-fingerprint lookup from being flattened into a join, and the array of ids, unknown when
    the statement is planned, is always looked up in the primary key."""
    if not fingerprints:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE scans_finding SET is_latest = false
            WHERE is_latest AND id = ANY(ARRAY(
                SELECT older.id
                FROM unnest(string_to_array(%s, ',')) AS s (fingerprint)
                CROSS JOIN LATERAL (
                    SELECT id FROM scans_finding
                    WHERE team_id = %s AND fingerprint = s.fingerprint AND is_latest
                        AND scan_id <> %s
                    OFFSET 0
                ) AS older
            ))
            """,
            [_joined(fingerprints), team_id, scan_id],
        )
        return cursor.rowcount
