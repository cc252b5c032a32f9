"""PDF reports of a scan, rendered by a worker with weasyprint (never inside a web request).

`report_request` records a queued `Report` and enqueues `scans.tasks.report_render`; the
worker claims it with a conditional UPDATE (a task delivered twice renders once), renders
templates/reports/scan.html and writes the PDF under ARTIFACTS_DIR. The page polls the report's
status; the API answers 202 + Location until it is ready.

Rendering fetches nothing: fonts come from the system (fontconfig: DejaVu), charts are inline SVG
made by scans.reports.charts, and the URL fetcher refuses every URL except `data:`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import User
from config.api_errors import Conflict
from config.artifacts import artifact_keep
from scans.engine.runtime import SEVERITIES
from scans.findings.diff import scan_diff
from scans.findings.ownership import findings_decorate
from scans.models import Finding, Report, Scan
from scans.reports.charts import severity_bars_svg
from scans.reports.screenshots import report_screenshots

# weasyprint logs every page it lays out at INFO: hundreds of lines per report.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

EVIDENCE_MAX_CHARS = 300
TEXT_MAX_CHARS = 900
# The most severe findings are described in full (description, remediation, evidence); past
# this many, findings are listed one per line. Layout time grows with the text, and a reader of
# a 1,000-finding PDF needs the worst ones explained; every field of every finding is in the
# JSON, CSV and SARIF exports.
DETAIL_BUDGET = 250


def report_latest(scan: Scan) -> Report | None:
    return Report.objects.filter(scan=scan).order_by("-created_at", "-pk").first()


def report_request(*, scan: Scan, user: User | None, force: bool = False) -> Report:
    """The scan's report: the pending or ready one, or a new one queued for a worker (`force`:
    always a new one, e.g. after triage changed). A scan still running has no report yet."""
    if not scan.is_finished:
        raise Conflict(f"Scan #{scan.pk} is {scan.status}; its report can be made when it ends.")
    latest = report_latest(scan)
    if latest is not None and not force and latest.status != Report.Status.FAILED:
        return latest
    report = Report.objects.create(team_id=scan.team_id, scan=scan, requested_by=user)
    audit_record(
        "report.requested",
        user=user,
        team=scan.team,
        detail={"scan_id": scan.pk, "report_id": report.pk},
    )
    transaction.on_commit(lambda: _enqueue(report.pk))
    return report


def _enqueue(report_id: int) -> None:
    from django_q.tasks import async_task

    async_task("scans.tasks.report_render", report_id, group="reports")


# --- Rendering ---------------------------------------------------------------------------------


def offline_url_fetcher() -> Any:
    """A weasyprint URL fetcher that refuses every URL but `data:` (no network, no files)."""
    from weasyprint.urls import URLFetcher

    class OfflineFetcher(URLFetcher):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(allowed_protocols={"data"}, allow_redirects=False)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.lower().startswith("data:"):
                self.refused.append(url)
                raise ValueError(f"reports fetch nothing while rendering: {url[:100]}")
            return super().fetch(url, headers)

    return OfflineFetcher()


@dataclass
class RuleGroup:
    """Findings of one rule (same tool and rule id) within a severity: the description and the
    remediation once, then each occurrence with its location and evidence."""

    tool: str
    rule_id: str
    title: str
    description: str
    remediation: str
    references: list[str]
    findings: list[Finding] = field(default_factory=list)
    detailed: bool = True


def _flatten(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        out: list[str] = []
        for key in sorted(value, key=str):
            out.extend(_flatten(value[key], f"{prefix}{key}."))
        return out
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value[:5]) + (" …" if len(value) > 5 else "")
    return [f"{prefix.rstrip('.')}: {value}"]


# Evidence keys whose content the report shows as structured fields (CVSS, CWE, CVE) instead of
# a dump of the tool's nested keys.
STRUCTURED_EVIDENCE_KEYS = frozenset({"cvss", "cwe", "cve", "cvss_score", "CVSS", "CweIDs"})


def _evidence_text(evidence: Any) -> str:
    """Evidence as `key: value` pairs on one line (nested keys dotted), cut at a few hundred
    characters: enough to recognise the case, the raw output stays in the artifacts."""
    if not evidence:
        return ""
    if isinstance(evidence, dict):
        evidence = {
            k: v
            for k, v in evidence.items()
            if k not in STRUCTURED_EVIDENCE_KEYS and v not in ("", [], {})
        }
    text = " · ".join(_flatten(evidence)) if isinstance(evidence, dict) else str(evidence)
    return text if len(text) <= EVIDENCE_MAX_CHARS else text[: EVIDENCE_MAX_CHARS - 1] + "…"


def _clip(text: str, limit: int = TEXT_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_context(scan: Scan) -> dict[str, Any]:
    """Everything templates/reports/scan.html shows, in a handful of queries."""

    findings = list(
        Finding.objects.filter(scan=scan)
        .defer("step")
        .order_by("-severity_rank", "tool", "rule_id", "title", "location", "pk")
    )
    counts = {s: 0 for s in SEVERITIES}
    groups: dict[str, dict[tuple[str, str], RuleGroup]] = {s: {} for s in SEVERITIES}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
        key = (f.tool, f.rule_id or f.title)
        group = groups.setdefault(f.severity, {}).get(key)
        if group is None:
            group = groups[f.severity][key] = RuleGroup(
                tool=f.tool,
                rule_id=f.rule_id,
                title=f.title,
                description=_clip(f.description),
                remediation=_clip(f.remediation),
                references=[r for r in f.references or [] if isinstance(r, str)][:4],
            )
        f.evidence_text = _evidence_text(f.evidence)  # type: ignore[attr-defined]
        f.vuln_line = vulnerability_line(f)  # type: ignore[attr-defined]
        group.findings.append(f)
    statuses = dict(
        Finding.objects.filter(scan=scan)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    open_counts = {s: 0 for s in SEVERITIES}
    by_status: dict[str, dict[str, int]] = {s: {} for s in SEVERITIES}
    for f in findings:
        by_status[f.severity][f.status] = by_status[f.severity].get(f.status, 0) + 1
        if f.status == Finding.Status.OPEN:
            open_counts[f.severity] += 1
    findings_decorate(scan.team, findings)
    overdue = sum(1 for f in findings if getattr(f, "sla_state", "") == "overdue")
    top_groups = _top_groups(findings)
    diff = scan_diff(scan)
    by_fp_prev: dict[str, Finding] = {}
    if diff.previous is not None and diff.fixed:
        for row in Finding.objects.filter(
            team_id=scan.team_id, scan=diff.previous, fingerprint__in=diff.fixed[:2000]
        ):
            by_fp_prev[row.fingerprint] = row
    new_set = set(diff.new)
    new_rows = [f for f in findings if f.fingerprint in new_set][:100]
    fixed_rows = sorted(by_fp_prev.values(), key=lambda f: (-f.severity_rank, f.title))[:100]
    steps = list(scan.steps.all().order_by("position", "pk"))
    detailed = 0
    for severity in SEVERITIES:
        for group in groups.get(severity, {}).values():
            group.detailed = detailed < DETAIL_BUDGET
            if group.detailed:
                detailed += len(group.findings)
    severity_sections = [
        (s, counts.get(s, 0), list(groups.get(s, {}).values())) for s in SEVERITIES if counts.get(s)
    ]
    return {
        "scan": scan,
        "team": scan.team,
        "generated_at": timezone.now(),
        "counts": counts,
        "counts_list": [(s, counts.get(s, 0)) for s in SEVERITIES],
        "total": len(findings),
        "statuses": [(label, statuses.get(value, 0)) for value, label in Finding.Status.choices],
        "status_labels": Finding.Status.choices,
        "severity_status": [
            (s, [by_status[s].get(value, 0) for value, _ in Finding.Status.choices])
            for s in SEVERITIES
        ],
        "open_counts_list": [(s, open_counts[s]) for s in SEVERITIES],
        "open_total": sum(open_counts.values()),
        "overdue": overdue,
        "top_groups": top_groups,
        "chart": severity_bars_svg(counts, width=460, ink="#0f172a", muted="#475569"),
        "diff": diff,
        "new_rows": new_rows,
        "fixed_rows": fixed_rows,
        "sections": severity_sections,
        "steps": steps,
        "screenshots": report_screenshots(scan),
        "detailed": detailed,
        "listed": len(findings) - detailed,
        "targets": scan.target_snapshot or [],
    }


def vulnerability_line(f: Finding) -> str:
    """The structured fields of a finding as one readable line: "CVSS 9.8 Critical (3.1) · CWE-79 ·
    CVE-2024-1234 · EPSS 97% · known exploited (KEV)" ("" when it has none)."""
    parts = []
    if f.cvss_score is not None:
        version = "4.0" if f.cvss_v4_score is not None else (f.cvss_v3_vector[5:8] or "3.x")
        parts.append(f"CVSS {f.cvss_score:.1f} {f.cvss_severity} ({version})")
    parts += list(f.cwe_ids or [])[:3]
    parts += [v for v in (f.vuln_ids or [])[:3] if v != f.rule_id]
    if f.epss_score is not None:
        parts.append(f"EPSS {f.epss_score * 100:.0f}%")
    if f.is_kev:
        parts.append("known exploited (KEV)")
    if f.has_fix and not f.fixed_version:  # a fixed version is shown with the component
        parts.append("fix available")
    return " · ".join(parts)


def _top_groups(findings: list[Finding], limit: int = 8) -> list[dict[str, Any]]:
    """The scan's open findings by rule / CVE, worst first: the executive summary's top groups."""
    groups: dict[str, dict[str, Any]] = {}
    for f in findings:
        if f.status != Finding.Status.OPEN:
            continue
        key = f.rule_id or f.title
        group = groups.setdefault(
            key, {"rule_id": key, "title": f.title, "rank": -1, "worst": f.severity,
                  "findings": 0, "assets": set(), "fixable": 0},
        )  # fmt: skip
        group["findings"] += 1
        group["assets"].add(f.item or f.location)
        group["fixable"] += int(f.has_fix)
        if f.severity_rank > group["rank"]:
            group["rank"], group["worst"] = f.severity_rank, f.severity
    ordered = sorted(groups.values(), key=lambda g: (-g["rank"], -g["findings"], g["rule_id"]))
    return [{**g, "assets": len(g["assets"])} for g in ordered[:limit]]


def report_html(scan: Scan) -> str:
    return render_to_string("reports/scan.html", report_context(scan))


def report_render(report_id: int) -> str:
    """Render one queued report to PDF (the worker task). Claimed with a conditional UPDATE."""
    from weasyprint import HTML

    now = timezone.now()
    claimed = Report.objects.filter(pk=report_id, status=Report.Status.QUEUED).update(
        status=Report.Status.RENDERING, started_at=now
    )
    if not claimed:
        return f"report {report_id}: not queued"
    report = Report.objects.select_related("scan", "scan__team").get(pk=report_id)
    scan = report.scan
    started = time.monotonic()
    try:
        html = report_html(scan)
        fetcher = offline_url_fetcher()
        document = HTML(string=html, base_url=None, url_fetcher=fetcher).render()
        folder = settings.ARTIFACTS_DIR / f"scan-{scan.pk}" / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"outpost-scan-{scan.pk}-report-{report.pk}.pdf"
        document.write_pdf(path)
    except Exception as exc:  # the report says what failed; the worker stays up
        Report.objects.filter(pk=report.pk).update(
            status=Report.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            render_ms=int((time.monotonic() - started) * 1000),
        )
        return f"report {report_id}: failed ({type(exc).__name__})"
    size = path.stat().st_size
    Report.objects.filter(pk=report.pk).update(
        status=Report.Status.READY,
        # In the shared storage, so the web host serves what a worker on another host rendered.
        path=artifact_keep(path),
        size=size,
        pages=len(document.pages),
        findings_count=scan.findings_count,
        finished_at=timezone.now(),
        render_ms=int((time.monotonic() - started) * 1000),
    )
    return f"report {report_id}: {len(document.pages)} pages"


def report_pdf_response(*, scan: Scan, user: User | None, force: bool = False) -> Any:
    """`GET|POST /api/v1/scans/{id}/report.pdf`: the PDF (200) when ready; 202 + Location while a
    worker renders it; 409 with the error when the last rendering failed (POST to retry)."""
    from django.http import FileResponse
    from rest_framework.response import Response

    report = report_latest(scan)
    missing = report is not None and report.status == Report.Status.READY and not report.is_stored
    if force or report is None or missing:
        report = report_request(scan=scan, user=user, force=True)
    location = f"/api/v1/scans/{scan.pk}/report.pdf"
    if report.status == Report.Status.READY and (not missing or report.is_stored):
        return FileResponse(
            report.open(),
            content_type="application/pdf",
            filename=f"outpost-scan-{scan.pk}-report.pdf",
        )
    if report.status == Report.Status.FAILED:
        raise Conflict(
            f"Rendering report #{report.pk} failed: {report.error[:300]}; POST to retry."
        )
    return Response(
        {"report": report.pk, "status": report.status},
        status=202,
        headers={"Location": location, "Retry-After": "2"},
    )
