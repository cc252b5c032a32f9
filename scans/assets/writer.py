"""The PostgreSQL write path of the inventory: COPY into a temporary table, then one INSERT …
ON CONFLICT per layer that merges it into the team's assets and returns every row's id.

Tracked attrs are compared in the same statement: a CTE reads, before the merge, the rows whose
tracked attrs differ from what this batch reports (or that were gone) and hands back their old
attrs, so a rescan of 60,000 unchanged assets sends back ids only. Rows are merged in (kind,
value) order, so two steps of a scan writing the same assets at once queue instead of
deadlocking.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction

from config.bulkwrite import copy_into, json_text, timestamp_text

if TYPE_CHECKING:
    from scans.models import Scan

# The temporary tables' names are written out in the statements below (never user input).
STAGE = "outpost_asset_stage"
STAGE_COLUMNS = (
    "kind", "value", "attrs", "tracked", "port", "status_code", "parent_id", "certificate_id",
    "in_scope",
)  # fmt: skip
SIGHTING_STAGE = "outpost_scanasset_stage"
KEY_STAGE = "outpost_asset_keys"


@dataclass(slots=True)
class Stored:
    """One asset after the write: its id, and what this batch changed about it."""

    id: int
    kind: str
    created_by_scan: bool  # first seen by this scan (in this batch or an earlier step)
    before: dict[str, Any] | None  # its attrs before, when a tracked one differs (else None)
    was_gone: bool


@dataclass(slots=True)
class AssetRow:
    """One asset of a layer, ready to write."""

    kind: str
    value: str
    attrs: dict[str, Any]
    tracked: Callable[[], dict[str, Any]]  # asked only when the asset may exist (the merge)
    port: int | None
    status_code: int | None
    parent_id: int | None
    certificate_id: int | None
    in_scope: bool


def _stage(cursor: Any) -> None:
    # A session's temporary table, emptied at every commit; created once per connection.
    cursor.execute(
        """
        CREATE TEMP TABLE IF NOT EXISTS outpost_asset_stage (
            kind text, value text, attrs jsonb, tracked jsonb, port integer,
            status_code integer, parent_id bigint, certificate_id bigint, in_scope boolean
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS outpost_scanasset_stage (
            asset_id bigint, kind text, change text
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS outpost_asset_keys (
            kind text, value text
        ) ON COMMIT DELETE ROWS;
        TRUNCATE outpost_asset_stage, outpost_scanasset_stage, outpost_asset_keys;
        """
    )


_MERGE = """
WITH before AS (
    SELECT a.id, a.attrs, a.gone_at IS NOT NULL AS was_gone
    FROM outpost_asset_stage s JOIN scans_asset a
        ON a.team_id = %(team)s AND a.kind = s.kind AND a.value = s.value
    WHERE a.gone_at IS NOT NULL OR EXISTS (
        SELECT 1 FROM jsonb_each(s.tracked) e WHERE a.attrs -> e.key IS DISTINCT FROM e.value
    )
), merged AS (
    INSERT INTO scans_asset AS a (
        team_id, kind, value, attrs, parent_id, certificate_id, port, status_code, in_scope,
        open_findings, first_seen_at, last_seen_at, first_scan_id, last_scan_id, gone_at
    )
    SELECT %(team)s, kind, value, attrs, parent_id, certificate_id, port, status_code, in_scope,
        0, %(now)s, %(now)s, %(scan)s, %(scan)s, NULL
    FROM outpost_asset_stage ORDER BY kind, value
    ON CONFLICT (team_id, kind, value) DO UPDATE SET
        attrs = a.attrs || EXCLUDED.attrs,
        parent_id = COALESCE(EXCLUDED.parent_id, a.parent_id),
        certificate_id = COALESCE(EXCLUDED.certificate_id, a.certificate_id),
        port = COALESCE(EXCLUDED.port, a.port),
        status_code = COALESCE(EXCLUDED.status_code, a.status_code),
        in_scope = EXCLUDED.in_scope,
        last_seen_at = EXCLUDED.last_seen_at,
        last_scan_id = EXCLUDED.last_scan_id,
        gone_at = NULL
    RETURNING a.id, a.kind, a.value, a.first_scan_id
)
SELECT m.id, m.kind, m.value, m.first_scan_id, b.attrs, COALESCE(b.was_gone, false)
FROM merged m LEFT JOIN before b ON b.id = m.id
"""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


_NEW_COLUMNS = (
    "id", "team_id", "kind", "value", "attrs", "parent_id", "certificate_id", "port",
    "status_code", "in_scope", "open_findings", "first_seen_at", "last_seen_at", "first_scan_id",
    "last_scan_id",
)  # fmt: skip


def assets_upsert(*, scan: Scan, rows: list[AssetRow], now: datetime) -> list[Stored]:
    """Write one layer of rows into the scan team's assets; the results in the rows' order.

    The assets the team does not have yet (all of them, the first time a surface is scanned)
    are COPYed straight into the table under ids drawn from its sequence; the others are merged
    through the staging table, which also compares their tracked attrs. A step of the team that
    inserts one of the same assets meanwhile makes the COPY fail as a whole: then the whole layer
    takes the merge."""
    existing = _existing(scan.team_id, rows)
    if not existing:  # a surface seen for the first time: no merge, results in order
        try:
            with transaction.atomic():
                return _insert_new(scan, rows, now)
        except IntegrityError:
            return _merge(scan, rows, now)
    new = [r for r in rows if (r.kind, r.value) not in existing]
    found: dict[tuple[str, str], Stored] = {}
    if new:
        try:
            with transaction.atomic():
                stored = _insert_new(scan, new, now)
        except IntegrityError:
            return _merge(scan, rows, now)
        found.update(((r.kind, r.value), result) for r, result in zip(new, stored, strict=True))
    if len(new) < len(rows):
        found.update(
            _merge(scan, [r for r in rows if (r.kind, r.value) in existing], now, keyed=True)
        )
    return [found[(r.kind, r.value)] for r in rows]


def _existing(team_id: int, rows: list[AssetRow]) -> set[tuple[str, str]]:
    """Which of the rows' (kind, value) the team already has: one index probe each. The keys
    are COPYed into a temporary table: adapting 50,000 values as two text arrays on the client
    took longer than the probes. A team with no asset of the rows' kinds yet (its first scan of
    that part of the surface) is answered by one probe instead."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM scans_asset WHERE team_id = %s AND kind = ANY(%s))",
            [team_id, sorted({r.kind for r in rows})],
        )
        if not cursor.fetchone()[0]:
            return set()
        _stage(cursor)
    copy_into(KEY_STAGE, ("kind", "value"), ((r.kind, r.value) for r in rows))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.kind, a.value FROM outpost_asset_keys s "
            "JOIN scans_asset a ON a.team_id = %s AND a.kind = s.kind AND a.value = s.value",
            [team_id],
        )
        return {(kind, value) for kind, value in cursor.fetchall()}


def _ids_reserved(count: int) -> list[int]:
    """`count` ids drawn from the assets' sequence. The sequence is named as a constant in the
    drawing statement: named through an expression (`pg_get_serial_sequence`, or its result
    read from a CTE) it was looked up again for every draw, 25x the draws themselves (0.24 s
    for 10,000 ids against 0.01 s). A run of consecutive ids, the usual case, comes back as its
    two ends instead of `count` rows; when another session drew ids meanwhile, the ids come
    back as one array."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('scans_asset', 'id')")
        sequence = cursor.fetchone()[0]
        cursor.execute(
            """
            WITH drawn AS (SELECT nextval(%s::regclass) AS id FROM generate_series(1, %s))
            SELECT min(id), max(id),
                CASE WHEN max(id) - min(id) + 1 = count(*) THEN NULL ELSE array_agg(id) END
            FROM drawn
            """,
            [sequence, count],
        )
        low, high, scattered = cursor.fetchone()
    return list(scattered) if scattered is not None else list(range(low, high + 1))


def _insert_new(scan: Scan, rows: list[AssetRow], now: datetime) -> list[Stored]:
    ids = _ids_reserved(len(rows))
    team, scan_id, seen = scan.team_id, scan.pk, timestamp_text(now)
    copy_into(
        "scans_asset",
        _NEW_COLUMNS,
        (
            (pk, team, r.kind, r.value, json_text(r.attrs), r.parent_id, r.certificate_id,
             r.port, r.status_code, r.in_scope, 0, seen, seen, scan_id, scan_id)
            for pk, r in zip(ids, rows, strict=True)
        ),
    )  # fmt: skip
    return [Stored(pk, r.kind, True, None, False) for pk, r in zip(ids, rows, strict=True)]


def _merge(scan: Scan, rows: list[AssetRow], now: datetime, *, keyed: bool = False) -> Any:
    """The staged merge of rows that may exist: INSERT … ON CONFLICT, tracked attrs compared."""
    with connection.cursor() as cursor:
        _stage(cursor)
    copy_into(
        STAGE,
        STAGE_COLUMNS,
        (
            (r.kind, r.value, json_text(r.attrs), json_text(r.tracked()), r.port, r.status_code,
             r.parent_id, r.certificate_id, r.in_scope)
            for r in rows
        ),
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_MERGE, {"team": scan.team_id, "now": now, "scan": scan.pk})
        # Django has psycopg hand jsonb back as text (JSONField parses it): so does this.
        found = {
            (kind, value): Stored(pk, kind, first_scan == scan.pk, _json(before), bool(was_gone))
            for pk, kind, value, first_scan, before, was_gone in cursor.fetchall()
        }
    return found if keyed else [found[(r.kind, r.value)] for r in rows]


def sightings_upsert(*, scan: Scan, sightings: dict[int, tuple[str, str]]) -> None:
    """The scan's sightings of these assets: new rows, or the more telling change kept
    (new > reappeared > changed > seen) when an earlier step of the scan saw the asset too."""
    # Unsorted: the merge below orders its rows itself (the COPY needs no order).
    rows = [(asset_id, kind, change) for asset_id, (kind, change) in sightings.items()]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM scans_scanasset WHERE scan_id = %s LIMIT 1", [scan.pk])
        first = cursor.fetchone() is None
    if first:
        # The scan's first sightings (its first step that found anything, every import): no
        # row can conflict, so they are COPYed straight in, unless a step of the same scan
        # wrote some meanwhile; then the merge below takes them.
        try:
            with transaction.atomic():
                copy_into(
                    "scans_scanasset",
                    ("scan_id", "asset_id", "kind", "change"),
                    ((scan.pk, *row) for row in rows),
                )
            return
        except IntegrityError:
            pass
    with connection.cursor() as cursor:
        _stage(cursor)
    copy_into(SIGHTING_STAGE, ("asset_id", "kind", "change"), rows)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO scans_scanasset AS sa (scan_id, asset_id, kind, change)
            SELECT %(scan)s, asset_id, kind, change FROM outpost_scanasset_stage ORDER BY asset_id
            ON CONFLICT (scan_id, asset_id) DO UPDATE SET change = CASE
                WHEN array_position(%(ranks)s, EXCLUDED.change)
                    > array_position(%(ranks)s, sa.change)
                THEN EXCLUDED.change ELSE sa.change END
            """,
            {"scan": scan.pk, "ranks": ["seen", "changed", "reappeared", "new"]},
        )
