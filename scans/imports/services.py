"""Importing a report a tool already wrote (CI pipelines that run Trivy or Gitleaks themselves):
it becomes a completed scan with the same findings, dedup, triage, diff and exports."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Team, User
from scans.assets.recording import assets_record, scan_assets_conclude
from scans.engine.flow import scan_log
from scans.findings.diff import scan_diff
from scans.findings.storage import artifact_record, findings_store, scan_counts_refresh
from scans.imports.detection import Detected, ReportUnrecognised, report_detect
from scans.models import Scan, ScanStatus, ScanStep, StepStatus
from scans.signals import scan_finished
from scans.tools import importable_tools, report_parse
from scans.tools.kit.detect import detection_done
from scans.tools.kit.reports import ParsedReport

log = structlog.get_logger(__name__)
IMPORT_MAX_FILES = 20  # reports of one CI run in one upload


def importable_tool_names() -> list[str]:
    """The tools whose reports can be imported (every tool module that declares a format)."""
    return [tool.type for tool in importable_tools()]


# Parsers start their refusals with "not a <tool> (JSON) report: "; the message below says it.
_REPEATED_PREFIX = re.compile(r"^not an? [\w. -]{1,40} report:\s*", re.IGNORECASE)


class ImportRefused(ValidationError):
    pass


@dataclass
class ReportFile:
    """One uploaded report: its name and bytes, and once read, what it is and what it says."""

    name: str
    data: bytes
    detected: Detected | None = None
    parsed: ParsedReport | None = None


def report_read(report: ReportFile, *, tool: str = "", target: str = "") -> ReportFile:
    """Detect and parse one report (ImportRefused in words when it cannot be imported)."""
    try:
        return _report_read(report, tool=tool, target=target)
    finally:
        detection_done()  # the JSON document detection kept for the parser


def _report_read(report: ReportFile, *, tool: str, target: str) -> ReportFile:
    named = f"{report.name}: " if report.name else ""
    try:
        detected = report_detect(report.data, tool)
    except ReportUnrecognised as exc:
        raise ImportRefused(
            {exc.field: [f"{named}{exc}" if exc.field == "file" else str(exc)]}
        ) from None
    report.detected = detected
    if detected.is_empty:
        report.parsed = ParsedReport(notes=[f"an empty {detected.format.label} report"])
        return report
    try:
        report.parsed = report_parse(detected.tool, detected.format, report.data, subject=target)
    except ValueError as exc:
        # Parsers raise ValueError for what they refuse (damaged XML, XML entities, a record of
        # the wrong shape), in words; the prefix naming the tool is said once, below.
        reason = _REPEATED_PREFIX.sub("", str(exc)) or "it cannot be read"
        raise ImportRefused(
            {"file": [f"{named}Not a valid {detected.format.label} report: {reason[:300]}"]}
        ) from None
    except (KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        # The document has the format's outer shape but a part of it is not what the tool
        # writes: say so, not the parser's internals.
        log.info("import.unreadable", format=detected.format.name, error=type(exc).__name__)
        raise ImportRefused(
            {
                "file": [
                    f"{named}Not a valid {detected.format.label} report: it looks like one, but "
                    "part of it does not have the shape that tool writes (damaged or edited)."
                ]
            }
        ) from None
    return report


@dataclass(frozen=True)
class Identified:
    """What an uploaded file is, said before it is imported (the page's preview, the API's
    `scans/import/detect`): its tool and format, or why it would be refused."""

    name: str
    size: int
    tool: str = ""
    tool_label: str = ""
    format: str = ""
    format_label: str = ""
    is_empty: bool = False
    error: str = ""


def reports_identify(*, files: list[tuple[str, bytes]], tool: str = "") -> list[Identified]:
    """Detect (without parsing or storing) what each file is, as `scan_import` would."""
    tool = (tool or "").strip().lower()
    if tool and tool not in importable_tool_names():
        return [
            Identified(name, len(data), error=f"Unknown tool {tool!r}.") for name, data in files
        ]
    found = []
    for name, data in files:
        if not tool and not data.strip():
            found.append(Identified(name, len(data), error="The file is empty: choose its tool."))
            continue
        try:
            detected = report_detect(data, tool)
        except ReportUnrecognised as exc:
            found.append(Identified(name, len(data), error=str(exc)))
            continue
        finally:
            detection_done()
        found.append(
            Identified(
                name,
                len(data),
                tool=detected.tool.type,
                tool_label=detected.tool.label,
                format=detected.format.name,
                format_label=detected.format.label,
                is_empty=detected.is_empty,
            )
        )
    return found


def scan_import(
    *,
    team: Team,
    user: User | None,
    tool: str = "",
    data: bytes = b"",
    filename: str = "",
    target: str = "",
    label: str = "",
    files: list[tuple[str, bytes]] | None = None,
) -> Scan:
    """Store reports a tool already wrote as one completed scan of the team.

    `data` (one report) or `files` (several reports of one CI run, name and bytes each: one step
    per report). `tool` empty: each report's tool is detected; given, every report must be that
    tool's. Nothing is written unless every report reads."""
    tool = (tool or "").strip().lower()
    known = importable_tool_names()
    if tool and tool not in known:
        raise ImportRefused({"tool": [f"Unknown tool {tool!r}; one of {', '.join(known)}."]})
    reports = [ReportFile(name, body) for name, body in (files or [(filename, data)])]
    if not reports:
        raise ImportRefused({"file": ["No report was sent."]})
    if len(reports) > IMPORT_MAX_FILES:
        raise ImportRefused({"file": [f"At most {IMPORT_MAX_FILES} reports at once."]})
    if sum(len(report.data) for report in reports) > settings.IMPORT_MAX_BYTES:
        raise ImportRefused(
            {"file": [f"The reports together exceed {settings.IMPORT_MAX_BYTES} bytes."]}
        )
    target = target.strip()[:500]
    if target.startswith("-"):
        raise ImportRefused({"target": ["A target cannot start with '-'."]})
    for report in reports:
        if not tool and not report.data.strip():
            raise ImportRefused(
                {"file": [f"{report.name + ': ' if report.name else ''}The file is empty."]}
            )
        report_read(report, tool=tool, target=target)
    return _scan_store(team=team, user=user, reports=reports, target=target, label=label)


def _scan_store(
    *, team: Team, user: User | None, reports: list[ReportFile], target: str, label: str
) -> Scan:
    tools = sorted({report.detected.tool.type for report in reports if report.detected})
    shown = "+".join(tools)
    label = (label or "").strip()[:200] or f"import: {shown}"
    now = timezone.now()
    nodes = [
        {
            "id": _node_id(index, len(reports)),
            "type": report.detected.tool.type,
            "config": {"format": report.detected.format.name},
        }
        for index, report in enumerate(reports, 1)
        if report.detected
    ]
    with transaction.atomic():
        scan = Scan.objects.create(
            team=team,
            workflow_name=label,
            graph={"nodes": nodes, "edges": []},
            target_snapshot=[{"kind": "import", "value": target}] if target else [],
            targets_key=hashlib.sha256(f"import:{shown}:{target}".encode()).hexdigest(),
            source=Scan.Source.IMPORT,
            status=ScanStatus.COMPLETED,
            requested_by=user,
            created_at=now,
            started_at=now,
            finished_at=now,
            steps_total=len(reports),
            steps_done=len(reports),
        )
        folder = settings.ARTIFACTS_DIR / f"scan-{scan.pk}" / "import"
        folder.mkdir(parents=True, exist_ok=True)
        stored = 0
        for index, report in enumerate(reports, 1):
            stored += _report_store(scan, report, _node_id(index, len(reports)), folder, now)
        scan_counts_refresh(scan)
        scan_assets_conclude(scan)
        audit_record(
            "scan.imported",
            user=user,
            team=team,
            detail={
                "scan_id": scan.pk,
                "tool": shown,
                "formats": [r.detected.format.name for r in reports if r.detected],
                "files": len(reports),
                "bytes": sum(len(r.data) for r in reports),
                "findings": stored,
            },
        )
        # An imported scan ends like any other: notification rules (integrations) hear of it.
        transaction.on_commit(lambda: scan_finished.send(sender=Scan, scan_id=scan.pk))
    return scan


def _node_id(index: int, count: int) -> str:
    return "import" if count == 1 else f"import-{index}"


def _report_store(scan: Scan, report: ReportFile, node_id: str, folder: Path, now: Any) -> int:
    assert report.detected is not None and report.parsed is not None
    detected, parsed = report.detected, report.parsed
    tool = detected.tool.type
    step = ScanStep.objects.create(
        scan=scan, node_id=node_id, node_type=tool, status=StepStatus.COMPLETED,
        config={"format": detected.format.name, "file": report.name[:200]},
        attempt=1, max_attempts=1, started_at=now, finished_at=now, executor="import",
    )  # fmt: skip
    safe_name = (
        "".join(c for c in (report.name or f"{tool}-report") if c.isalnum() or c in "._-")[:100]
        or "report"
    )
    raw_path = folder / (safe_name if node_id == "import" else f"{node_id}-{safe_name}")
    raw_path.write_bytes(report.data)
    artifact_record(scan=scan, step=step, path=raw_path, name=raw_path.name)
    items = list(parsed.items)
    recorded = assets_record(scan=scan, items=[*items, *parsed.assets], findings=parsed.findings)
    fingerprints = findings_store(
        scan=scan, step=step, findings=list(parsed.findings), asset_ids=recorded.item_assets
    )
    step.findings_count = len(fingerprints)
    step.items_out = len(items)
    # No node follows an import: its step passes no fingerprints on (output_findings).
    step.save(update_fields=["findings_count", "items_out"])
    for note in parsed.notes[:20]:
        scan_log(scan.pk, f"{report.name or tool}: {note}"[:1000])
    scan_log(
        scan.pk,
        f"imported {len(fingerprints)} finding(s) and {len(recorded.ids)} asset(s) from "
        f"{report.name or 'a report'} ({detected.format.label}, {len(report.data)} bytes)",
    )
    return len(fingerprints)


def import_summary(scan: Scan) -> dict[str, Any]:

    diff = scan_diff(scan)
    steps = list(scan.steps.order_by("pk").values_list("node_type", "config"))
    return {
        "scan_id": scan.pk,
        "tools": sorted({tool for tool, _ in steps}),
        "formats": [str((config or {}).get("format", "")) for _, config in steps],
        "status": scan.status,
        "findings": scan.findings_count,
        "severity_counts": scan.severity_counts,
        "new": len(diff.new),
        "still_open": len(diff.still_open),
        "fixed": len(diff.fixed),
        "previous_scan": diff.previous.pk if diff.previous else None,
    }
