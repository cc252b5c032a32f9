"""Importing a report a tool already wrote (CI pipelines that run Trivy or Gitleaks themselves):
it becomes a completed scan with the same findings, dedup, triage, diff and exports."""

from __future__ import annotations

import hashlib
import re
from typing import Any

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
from scans.models import Scan, ScanStatus, ScanStep, StepStatus
from scans.signals import scan_finished
from scans.tools import importable_tools, report_parse, tool_get


def importable_tool_names() -> list[str]:
    """The tools whose reports can be imported (every tool module that declares a format)."""
    return [tool.type for tool in importable_tools()]


# Parsers start their refusals with "not a <tool> (JSON) report: "; the message below says it.
_REPEATED_PREFIX = re.compile(r"^not an? [\w. -]{1,40} report:\s*", re.IGNORECASE)


class ImportRefused(ValidationError):
    pass


def scan_import(
    *,
    team: Team,
    user: User | None,
    tool: str,
    data: bytes,
    filename: str = "",
    target: str = "",
    label: str = "",
) -> Scan:
    """Parse `data` as a `tool` report and store it as a completed scan of the team."""
    tool = (tool or "").strip().lower()
    known = importable_tool_names()
    if tool not in known:
        raise ImportRefused({"tool": [f"Unknown tool {tool!r}; one of {', '.join(known)}."]})
    if not data.strip():
        raise ImportRefused({"file": ["The file is empty."]})
    target = target.strip()[:500]
    if target.startswith("-"):
        raise ImportRefused({"target": ["A target cannot start with '-'."]})
    chosen = tool_get(tool)
    try:
        parsed = report_parse(chosen, chosen.formats[0], data, subject=target)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        # Parsers raise ValueError for what they refuse (bad JSON, XML entities, wrong shape);
        # KeyError/TypeError/AttributeError mean the document is not the shape this tool writes.
        reason = _REPEATED_PREFIX.sub("", str(exc)) or type(exc).__name__
        raise ImportRefused({"file": [f"Not a valid {tool} report: {reason[:300]}"]}) from exc

    label = (label or "").strip()[:200] or f"import: {tool}"
    now = timezone.now()
    with transaction.atomic():
        scan = Scan.objects.create(
            team=team,
            workflow_name=label,
            graph={"nodes": [{"id": "import", "type": tool, "config": {}}], "edges": []},
            target_snapshot=[{"kind": "import", "value": target}] if target else [],
            targets_key=hashlib.sha256(f"import:{tool}:{target}".encode()).hexdigest(),
            source=Scan.Source.IMPORT,
            status=ScanStatus.COMPLETED,
            requested_by=user,
            created_at=now,
            started_at=now,
            finished_at=now,
            steps_total=1,
            steps_done=1,
        )
        step = ScanStep.objects.create(
            scan=scan, node_id="import", node_type=tool, status=StepStatus.COMPLETED,
            attempt=1, max_attempts=1, started_at=now, finished_at=now, executor="import",
        )  # fmt: skip
        folder = settings.ARTIFACTS_DIR / f"scan-{scan.pk}" / "import"
        folder.mkdir(parents=True, exist_ok=True)
        safe_name = (
            "".join(c for c in (filename or f"{tool}-report") if c.isalnum() or c in "._-")[:100]
            or "report"
        )
        raw_path = folder / safe_name
        raw_path.write_bytes(data)
        artifact_record(scan=scan, step=step, path=raw_path, name=safe_name)
        items = list(getattr(parsed, "items", []) or [])
        recorded = assets_record(
            scan=scan, items=[*items, *parsed.assets], findings=parsed.findings
        )
        fingerprints = findings_store(
            scan=scan, step=step, findings=list(parsed.findings), asset_ids=recorded.item_assets
        )
        step.findings_count = len(fingerprints)
        step.items_out = len(items)
        # No node follows an import: its step passes no fingerprints on (output_findings).
        step.save(update_fields=["findings_count", "items_out"])
        scan_counts_refresh(scan)
        scan_assets_conclude(scan)
        scan_log(
            scan.pk,
            f"imported {len(fingerprints)} finding(s) and {len(recorded.ids)} asset(s) from a "
            f"{tool} report ({len(data)} bytes)",
        )
        audit_record(
            "scan.imported",
            user=user,
            team=team,
            detail={
                "scan_id": scan.pk,
                "tool": tool,
                "bytes": len(data),
                "findings": len(fingerprints),
            },
        )
        # An imported scan ends like any other: notification rules (integrations) hear of it.
        transaction.on_commit(lambda: scan_finished.send(sender=Scan, scan_id=scan.pk))
    return scan


def import_summary(scan: Scan) -> dict[str, Any]:

    diff = scan_diff(scan)
    return {
        "scan_id": scan.pk,
        "status": scan.status,
        "findings": scan.findings_count,
        "severity_counts": scan.severity_counts,
        "new": len(diff.new),
        "still_open": len(diff.still_open),
        "fixed": len(diff.fixed),
        "previous_scan": diff.previous.pk if diff.previous else None,
    }
