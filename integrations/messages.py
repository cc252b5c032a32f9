"""The platform-neutral message: what a delivery says (scan, counts by severity, worst findings,
link). It is stored on the Delivery, so every attempt sends the same thing, and each integration
kind renders it for its platform (Slack blocks, Discord embeds, webhook JSON, e-mail text)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.urls import reverse

from scans.engine.runtime import SEVERITIES, SEVERITY_RANK, FindingData
from scans.models import Finding, Scan, severity_rank_expression

# Findings carried in a message (the worst first); platforms show fewer, the webhook all of them.
MAX_FINDINGS = 25


@dataclass
class MessageFinding:
    severity: str
    title: str
    tool: str = ""
    rule_id: str = ""
    location: str = ""
    component: str = ""
    version: str = ""
    fixed_version: str = ""
    fingerprint: str = ""
    is_new: bool = False


@dataclass
class Message:
    event: str
    title: str
    summary: str
    team: str = ""
    scan_id: int | None = None
    scan_url: str = ""
    workflow: str = ""
    scan_status: str = ""
    targets: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # of the findings this message is about
    findings: list[MessageFinding] = field(
        default_factory=list
    )  # worst first, at most MAX_FINDINGS
    findings_total: int = 0
    new_total: int = 0
    # Inventory rules (integrations.asset_rules): [{event, kind, value, change, detail, url}].
    assets: list[dict[str, Any]] = field(default_factory=list)
    assets_total: int = 0
    # The PDF a report node made before the alert node (integrations.nodes.report): linked in
    # chat and webhook messages, attached to e-mails.
    report_url: str = ""
    report_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        values["findings"] = [MessageFinding(**f) for f in data.get("findings") or []]
        return cls(**values)

    @property
    def worst_severity(self) -> str:
        present = [s for s in SEVERITIES if self.counts.get(s)]
        return present[0] if present else ""

    @property
    def more_findings(self) -> int:
        return max(0, self.findings_total - len(self.findings))


def counts_text(counts: dict[str, int]) -> str:
    """'1 critical · 2 high' (severities without findings left out); 'no findings' when empty."""
    parts = [f"{counts[s]} {s}" for s in SEVERITIES if counts.get(s)]
    return " · ".join(parts) or "no findings"


def public_url(path: str) -> str:
    return f"{settings.PUBLIC_URL}{path}"


def scan_link(scan: Scan) -> str:
    return public_url(reverse("scans:detail", args=[scan.pk]))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _message_findings(
    findings: Iterable[FindingData | Finding], new: set[str] | None
) -> tuple[list[MessageFinding], dict[str, int], int]:
    rows = list(findings)
    counts = {s: 0 for s in SEVERITIES}
    for row in rows:
        counts[row.severity if row.severity in counts else "info"] += 1
    rows.sort(key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.title, f.location))
    shown = [
        MessageFinding(
            severity=f.severity, title=f.title[:300], tool=f.tool, rule_id=f.rule_id[:200],
            location=f.location[:300], component=f.component[:200], version=f.version[:100],
            fixed_version=f.fixed_version[:100], fingerprint=f.fingerprint,
            is_new=new is not None and f.fingerprint in new,
        )
        for f in rows[:MAX_FINDINGS]
    ]  # fmt: skip
    return shown, {s: n for s, n in counts.items() if n}, len(rows)


def scan_findings_worst_first(scan: Scan, *, min_severity: str = "info") -> list[Finding]:
    """The scan's open findings at or above `min_severity`, worst first."""
    allowed = [s for s in SEVERITIES if SEVERITY_RANK[s] >= SEVERITY_RANK.get(min_severity, 0)]
    return list(
        Finding.objects.filter(scan=scan, severity__in=allowed, status=Finding.Status.OPEN)
        .annotate(rank=severity_rank_expression())
        .order_by("-rank", "title", "pk")
    )


def message_for_scan(
    scan: Scan,
    *,
    event: str,
    findings: Iterable[FindingData | Finding],
    new: set[str] | None = None,
    source: str = "",
) -> Message:
    """A message about `findings` of `scan`. `new` is the set of fingerprints not in the previous
    scan (marked as new), `source` names the workflow node that sent it."""
    shown, counts, total = _message_findings(findings, new)
    new_total = sum(1 for f in shown if f.is_new) if new is not None else 0
    name = scan.workflow_name or scan.get_source_display()
    found = _plural(total, "finding")
    if event == "new_finding":
        title = f"Scan #{scan.pk} ({name}): {_plural(total, 'new finding')}"
    elif event == "scan_failed":
        title = f"Scan #{scan.pk} failed: {name}"
    elif event == "scan_completed":
        title = f"Scan #{scan.pk} completed: {name}"
    elif event == "workflow":
        title = f"Scan #{scan.pk} ({name}): {found} from {source or 'an alert node'}"
    else:
        title = f"Scan #{scan.pk} ({name}): {found}"
    targets = [str(t.get("value", "")) for t in scan.target_snapshot or [] if isinstance(t, dict)]
    on = f" on {', '.join(targets[:3])}{' …' if len(targets) > 3 else ''}" if targets else ""
    summary = f"{name}{on}: {counts_text(counts)}."
    if event == "scan_failed" and scan.error:
        summary += f" Error: {scan.error[:500]}"
    return Message(
        event=event, title=title, summary=summary, team=scan.team.name, scan_id=scan.pk,
        scan_url=scan_link(scan), workflow=name, scan_status=scan.status, targets=targets[:50],
        counts=counts, findings=shown, findings_total=total, new_total=new_total,
    )  # fmt: skip


def message_for_test(*, team_name: str, integration_name: str) -> Message:
    return Message(
        event="test",
        title="Outpost test message",
        summary=f"The integration “{integration_name}” of {team_name} works: this is what a "
        "message about a scan looks like, without findings.",
        team=team_name,
        scan_url=public_url(reverse("integrations:list")),
    )


def message_for_schedule_failure(*, schedule_name: str, team_name: str, error: str) -> Message:
    return Message(
        event="schedule_failed",
        title=f"Scheduled scan “{schedule_name}” could not start",
        summary=error[:1500],
        team=team_name,
        scan_url=public_url(reverse("integrations:schedules")),
        scan_status="not started",
    )
