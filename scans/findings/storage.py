"""Turning a runner's StepResult into rows: findings (deduplicated, triage kept by fingerprint,
each pointing at its inventory asset), the asset inventory (through scans.assets.recording),
artifacts on disk, and the step's command record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from config.artifacts import artifact_keep, artifacts_delete
from config.bulkwrite import (
    chunks,
    copy_into,
    findings_demote,
    gc_paused,
    is_postgres,
    json_text,
    timestamp_text,
)
from scans.assets.recording import assets_record
from scans.engine.runtime import SEVERITIES, FindingData, StepResult, ToolRun
from scans.engine.vulns import finding_vulns_clean
from scans.findings.demo import demo_findings_store
from scans.findings.triage import finding_states_observe, findings_latest_refresh
from scans.models import Artifact, Finding, FindingState, Scan, ScanStep

TAIL_BYTES = 64 * 1024
CHUNK = 2000


def tail_text(data: bytes, limit: int = TAIL_BYTES) -> str:
    """The last `limit` bytes as text (tools print anything; undecodable bytes are replaced)."""
    return data[-limit:].decode("utf-8", errors="replace").replace("\x00", "")


def _clip(value: str, limit: int) -> str:
    # NUL cannot be stored in PostgreSQL text; tools do print it.
    value = value.replace("\x00", "") if "\x00" in value else value
    return value if len(value) <= limit else value[: limit - 1] + "…"


def findings_store(
    *,
    scan: Scan,
    step: ScanStep | None,
    findings: list[FindingData],
    asset_ids: dict[str, int] | None = None,
) -> list[str]:
    """Insert the step's findings into the scan (one row per fingerprint), or update severity and
    tags of ones already in this scan (logic nodes). Triage status and first-seen time come from
    the team's state of each fingerprint (scans.findings.triage); the new rows become the fingerprints'
    latest occurrences. `asset_ids` maps a finding's `item` to its inventory asset
    (scans.assets.recording.assets_record). Returns the fingerprints. A demo scan's findings
    are stored apart (scans.findings.demo)."""
    if scan.mode == Scan.Mode.DEMO:
        return demo_findings_store(scan=scan, step=step, findings=findings)
    with gc_paused():
        return _findings_store(scan=scan, step=step, findings=findings, assets=asset_ids or {})


def _findings_store(
    *, scan: Scan, step: ScanStep | None, findings: list[FindingData], assets: dict[str, int]
) -> list[str]:

    now = timezone.now()
    by_fp: dict[str, FindingData] = {}
    for finding in findings:
        if finding.severity not in SEVERITIES:
            finding.severity = "info"
        if finding.fingerprint not in by_fp:
            by_fp[finding.fingerprint] = finding_vulns_clean(finding)
    fingerprints = list(by_fp)
    existing: dict[str, Finding] = {}
    # A step of a scan that has no findings yet (every import, most tool steps) skips the lookup.
    has_rows = Finding.objects.filter(scan=scan).exists()
    for chunk in chunks(fingerprints) if has_rows else []:
        for row in Finding.objects.filter(team_id=scan.team_id, scan=scan, fingerprint__in=chunk):
            existing[row.fingerprint] = row
    changed = []
    for fp, row in existing.items():
        data = by_fp[fp]
        if row.severity != data.severity or row.tags != data.tags:
            row.severity, row.tags = data.severity, data.tags
            changed.append(row)
    with transaction.atomic():
        if changed:
            Finding.objects.bulk_update(changed, ["severity", "tags"], batch_size=CHUNK)
            for row in changed:
                if row.is_latest:
                    FindingState.objects.filter(
                        team_id=scan.team_id, fingerprint=row.fingerprint
                    ).update(severity=row.severity)

        # Sorted once: the triage states are locked in this order (scans.findings.triage).
        new_fps = sorted(fp for fp in fingerprints if fp not in existing)
        ids = (scan.team_id, scan.pk, step.pk if step else None)
        as_json = json_text if is_postgres() else _same
        # COPY takes the time as text, written once (config.bulkwrite.timestamp_text).
        stamp = timestamp_text(now) if is_postgres() else now
        rows: list[tuple[Any, ...]] = []

        def prepare() -> None:
            # As first seen now and open; the states that existed before are applied below.
            rows.extend(
                _finding_row(ids, fp, by_fp[fp], Finding.Status.OPEN, stamp, stamp, as_json, assets)
                for fp in new_fps
            )

        states = finding_states_observe(
            scan=scan,
            severities={fp: by_fp[fp].severity for fp in new_fps},
            now=now,
            meanwhile=prepare,
        )
        earlier = {fp: state for fp, state in states.items() if state != (Finding.Status.OPEN, now)}
        for index, fp in enumerate(new_fps) if earlier else ():
            if fp in earlier:
                cells = rows[index]
                rows[index] = (*cells[:_STATUS], *earlier[fp], *cells[_FIRST_SEEN + 1 :])
        _findings_insert(rows)
        # Only fingerprints with an earlier state can have earlier rows to demote; the others
        # were first seen right now.
        seen_before = [fp for fp in new_fps if fp in states and states[fp][1] != now]
        if is_postgres():
            findings_demote(team_id=scan.team_id, scan_id=scan.pk, fingerprints=seen_before)
        else:
            for chunk in chunks(seen_before):
                Finding.objects.filter(
                    team_id=scan.team_id, fingerprint__in=chunk, is_latest=True
                ).exclude(scan=scan).update(is_latest=False)
    return fingerprints


# The columns of a new finding row, in the order _finding_row gives them (FKs by attname).
FINDING_COLUMNS = (
    "team_id", "scan_id", "step_id", "tool", "severity", "title", "description", "remediation",
    "rule_id", "component", "version", "fixed_version", "location", "item", "evidence",
    "references", "tags", "cvss_v3_vector", "cvss_v3_score", "cvss_v4_vector", "cvss_v4_score",
    "cwe_ids", "vuln_ids", "epss_score", "epss_percentile", "is_kev", "has_fix", "fingerprint",
    "status", "first_seen_at", "last_seen_at", "created_at", "is_latest", "asset_id",
)  # fmt: skip
_STATUS = FINDING_COLUMNS.index("status")
_FIRST_SEEN = FINDING_COLUMNS.index("first_seen_at")
assert _FIRST_SEEN == _STATUS + 1
_JSON_CELLS = tuple(
    FINDING_COLUMNS.index(c) for c in ("evidence", "references", "tags", "cwe_ids", "vuln_ids")
)
_TIME_CELLS = tuple(
    FINDING_COLUMNS.index(c) for c in ("first_seen_at", "last_seen_at", "created_at")
)


_NO_ASSETS: dict[str, int] = {}


def _finding_row(
    ids: tuple[int, int, int | None],
    fp: str,
    data: FindingData,
    status: str,
    first_seen: Any,
    now: Any,
    as_json: Callable[[Any], Any],
    assets: dict[str, int] = _NO_ASSETS,
) -> tuple[Any, ...]:
    """One new finding row as FINDING_COLUMNS; `as_json` turns the JSON cells into what the
    writer takes (text for COPY, the objects themselves for the ORM)."""
    return (
        *ids,
        _clip(data.tool, 40),
        data.severity,
        _clip(data.title or data.rule_id or "finding", 500),
        _clip(data.description, 100_000),
        _clip(data.remediation, 100_000),
        _clip(data.rule_id, 200),
        _clip(data.component, 300),
        _clip(data.version, 200),
        _clip(data.fixed_version, 200),
        _clip(data.location, 1000),
        _clip(data.item, 1000),
        as_json(data.evidence),
        as_json(data.references[:50]),
        as_json(data.tags),
        data.cvss_v3_vector,
        data.cvss_v3_score,
        data.cvss_v4_vector,
        data.cvss_v4_score,
        as_json(data.cwe_ids),
        as_json(data.vuln_ids),
        data.epss_score,
        data.epss_percentile,
        data.is_kev,
        data.has_fix,
        fp,
        status,
        first_seen,
        now,
        now,
        True,
        assets.get(data.item),
    )


def _findings_insert(rows: list[tuple[Any, ...]]) -> None:
    """Insert new finding rows (FINDING_COLUMNS): COPY on PostgreSQL (config.bulkwrite), bulk_create
    elsewhere. A concurrent step of the same scan storing the same fingerprint makes COPY fail
    as a whole; then the ORM path skips the conflicting rows."""
    if not rows:
        return
    if is_postgres():
        try:
            with transaction.atomic():
                copy_into(Finding._meta.db_table, FINDING_COLUMNS, rows)
            return
        except IntegrityError:
            # The JSON and time cells were written as text for COPY; the ORM takes the values.
            rows = [tuple(_orm_cell(i, v) for i, v in enumerate(row)) for row in rows]
    Finding.objects.bulk_create(
        [Finding(**dict(zip(FINDING_COLUMNS, row, strict=True))) for row in rows],
        batch_size=CHUNK,
        ignore_conflicts=True,
    )


def _same(value: Any) -> Any:
    return value


def _orm_cell(index: int, value: Any) -> Any:
    if index in _JSON_CELLS:
        return json.loads(value)
    if index in _TIME_CELLS and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def findings_drop(*, scan: Scan, fingerprints: Iterable[str]) -> int:
    """Delete these findings from the scan (a rules node dropped them); an earlier scan's row of
    the same fingerprint becomes its latest occurrence again."""

    fps = list(fingerprints)
    dropped = 0
    for chunk in chunks(fps):
        dropped += Finding.objects.filter(
            team_id=scan.team_id, scan=scan, fingerprint__in=chunk
        ).delete()[0]
    if scan.mode != Scan.Mode.DEMO:  # demo rows are never anyone's latest occurrence
        findings_latest_refresh(team_id=scan.team_id, fingerprints=fps)
    return dropped


def findings_for(scan: Scan, fingerprints: list[str]) -> list[FindingData]:
    found: list[FindingData] = []
    for chunk in chunks(fingerprints):
        found.extend(
            row.as_data()
            for row in Finding.objects.filter(
                team_id=scan.team_id, scan=scan, fingerprint__in=chunk
            )
        )
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_record(
    *, scan: Scan, step: ScanStep | None, path: Path, name: str | None = None
) -> Artifact | None:
    """Keep a raw output file: it must lie under ARTIFACTS_DIR (runners write in their workdir);
    it goes to the artifact storage (config.artifacts: the folder itself, or a bucket shared by
    every host)."""
    root = settings.ARTIFACTS_DIR.resolve()
    resolved = path.resolve()
    if not resolved.is_file() or root not in resolved.parents:
        return None
    size, sha256 = resolved.stat().st_size, _sha256(resolved)
    return Artifact.objects.create(
        scan=scan,
        step=step,
        name=_clip(name or resolved.name, 200),
        path=artifact_keep(resolved),
        size=size,
        sha256=sha256,
        expires_at=timezone.now() + timedelta(days=settings.ARTIFACT_RETENTION_DAYS),
    )


ARTIFACT_EXPIRE_BATCH = 500


def artifacts_expire(*, now: datetime | None = None) -> int:
    """Retention: delete the artifacts past their `expires_at` (ARTIFACT_RETENTION_DAYS after
    they were kept) from the artifact storage and their rows, in batches; returns how many
    (hourly, scans.tasks.artifacts_expire)."""
    moment = now or timezone.now()
    removed = 0
    while True:
        batch = list(
            Artifact.objects.filter(expires_at__lt=moment).values_list("pk", "path")[
                :ARTIFACT_EXPIRE_BATCH
            ]
        )
        if not batch:
            return removed
        artifacts_delete([path for _, path in batch])
        Artifact.objects.filter(pk__in=[pk for pk, _ in batch]).delete()
        removed += len(batch)


def runs_record(*, scan: Scan, step: ScanStep, runs: list[ToolRun], workdir: Path) -> None:
    """Record argv, image, exit code and output tails on the step; full outputs become artifacts."""
    if not runs:
        return
    step.commands = [{"argv": list(run.argv), "image": run.image} for run in runs]
    step.executor = runs[-1].executor
    images = [run for run in runs if run.image]
    if images:
        step.image = images[-1].image[:300]
        step.image_digest = images[-1].image_digest[:300]
    failed = [run for run in runs if not run.ok]
    step.exit_code = (failed[0] if failed else runs[-1]).exit_code
    step.scope_enforcement, step.blocked = runs_enforcement(runs)
    step.stdout_tail = tail_text(b"\n".join(run.stdout for run in runs if run.stdout))
    step.stderr_tail = tail_text(b"\n".join(run.stderr for run in runs if run.stderr))
    workdir.mkdir(parents=True, exist_ok=True)
    for index, run in enumerate(runs, start=1):
        for stream, data in (("stdout", run.stdout), ("stderr", run.stderr)):
            if data:
                path = workdir / f"run-{index}.{stream}"
                path.write_bytes(data)
                artifact_record(scan=scan, step=step, path=path)


def runs_enforcement(runs: list[ToolRun]) -> tuple[str, list[dict[str, Any]]]:
    """The step's scope enforcement ("network" when every run with a network was sandboxed,
    else the first reason one was not) and what its sandboxes refused, summed per destination."""
    reasons = [run.enforcement for run in runs if run.enforcement]
    unfenced = [reason for reason in reasons if reason != "network"]
    counts: dict[tuple[str, str, Any], int] = {}
    for run in runs:
        for row in run.blocked:
            key = (str(row["address"]), str(row["proto"]), row.get("port"))
            counts[key] = counts.get(key, 0) + int(row["count"])
    blocked = [
        {"address": address, "proto": proto, "port": port, "count": count}
        for (address, proto, port), count in sorted(counts.items(), key=lambda kv: -kv[1])
    ]
    return (unfenced[0] if unfenced else ("network" if reasons else ""))[:300], blocked[:500]


@dataclass
class StoredResult:
    """What `step_result_store` kept of a step's result: the fingerprints it stored (in the
    scan's findings) and those a replacing node dropped, and the items it hands on."""

    fingerprints: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)


def step_runs_store(*, scan: Scan, step: ScanStep, result: StepResult, workdir: Path) -> None:
    """What ran, whatever came of it: the commands, exit codes and output tails on the step, full
    outputs and the runner's raw reports as artifacts."""
    runs_record(scan=scan, step=step, runs=result.runs, workdir=workdir)
    kept: dict[str, Artifact] = {}
    for path in result.artifacts:
        artifact = artifact_record(scan=scan, step=step, path=Path(path))
        if artifact is not None:
            kept[str(Path(path).resolve())] = artifact
    _screenshots_link(result, kept)


def _screenshots_link(result: StepResult, kept: dict[str, Artifact]) -> None:
    """A tool names a screenshot by the path of its PNG (it cannot know the artifact's id); the
    inventory shows it by the id (docs/inventory.md). A screenshot whose file was not kept is
    dropped from the item."""
    for item in [*result.items, *result.assets]:
        shot = item.attrs.get("screenshot")
        if not isinstance(shot, dict) or isinstance(shot.get("artifact"), int):
            continue
        artifact = kept.get(str(shot.get("path", "")))
        if artifact is None:
            item.attrs.pop("screenshot")
            continue
        shot.update(artifact=artifact.pk, path=artifact.path)


def step_result_store(
    *,
    scan: Scan,
    step: ScanStep,
    result: StepResult,
    input_fingerprints: list[str],
    replaces_findings: bool,
    records_assets: bool = True,
) -> StoredResult:
    """Store what a step that succeeded found: the inventory's assets (its items, the assets it
    only reports, and what its findings are about), its findings (deduplicated, triage kept,
    each pointing at its asset), and, for a node whose findings replace its input's (rules), the
    drop of the input findings it did not hand on. A node that only passes on what it received
    (`records_assets=False`: logic nodes) records no assets again. The engine decides the step's
    status; this only writes rows."""
    stored = StoredResult()
    asset_ids: dict[str, int] = {}
    if records_assets and scan.mode != Scan.Mode.DEMO:
        recorded = assets_record(
            scan=scan, items=[*result.items, *result.assets], findings=result.findings
        )
        asset_ids = recorded.item_assets
    stored.fingerprints = findings_store(
        scan=scan, step=step, findings=result.findings, asset_ids=asset_ids
    )
    if replaces_findings:
        kept = set(stored.fingerprints)
        stored.dropped = [fp for fp in input_fingerprints if fp not in kept]
        if stored.dropped:
            findings_drop(scan=scan, fingerprints=stored.dropped)
    stored.items = [item.to_dict() for item in result.items]
    return stored


def scan_counts_refresh(scan: Scan) -> None:
    counts = dict(
        Finding.objects.filter(scan=scan)
        .values_list("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
    )
    scan.severity_counts = {severity: counts.get(severity, 0) for severity in SEVERITIES}
    scan.findings_count = sum(scan.severity_counts.values())
    steps = list(scan.steps.values_list("status", "items_out"))
    scan.steps_total = len(steps)
    scan.steps_done = sum(
        1 for status, _ in steps if status in ("completed", "failed", "cancelled", "skipped")
    )
    scan.items_count = sum(items for _, items in steps)
    scan.save(
        update_fields=[
            "severity_counts",
            "findings_count",
            "steps_total",
            "steps_done",
            "items_count",
        ]
    )
