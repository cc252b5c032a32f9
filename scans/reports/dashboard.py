"""The dashboard's figures: open findings by severity, overdue and due soon, the rules / CVEs
they group into (and the worst groups), their 30-day trend, the riskiest assets, running and
recent scans, expiring authorizations. Accepted and false-positive findings are not open.

Counting a million findings on every page view is what makes dashboards slow, so the counts and
the top assets are computed off the request (`open_findings_refresh`, when a scan finishes and
after triage) into one small `OpenFindingsDay` row per team and day; the page reads at most 31
of them plus a few indexed, LIMITed queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Case, Count, IntegerField, Max, Min, Q, Sum, Value, When
from django.utils import timezone

from accounts.models import Team
from scans.engine.runtime import SEVERITIES
from scans.findings.ownership import DUE_SOON_DAYS
from scans.models import SCAN_TERMINAL, Finding, FindingState, OpenFindingsDay, Scan
from scans.reports.charts import severity_bars_svg, trend_svg
from targets.models import Target

TREND_DAYS = 30
TOP_ASSETS = 8
TOP_GROUPS = 6
EXPIRING_WITHIN_DAYS = 14
# Risk of an asset: its open findings weighted by severity.
RISK_WEIGHTS = {"critical": 10, "high": 5, "medium": 2, "low": 1, "info": 0}


def open_findings_refresh(team_id: int) -> OpenFindingsDay | None:
    """Recount the team's open findings (one per fingerprint) by severity and its riskiest
    assets, and store them as today's row."""
    if not Team.objects.filter(pk=team_id).exists():
        return None
    by_severity = dict(
        FindingState.objects.filter(team_id=team_id, status=Finding.Status.OPEN)
        .values_list("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
    )
    counts = {s: int(by_severity.get(s, 0)) for s in SEVERITIES}
    weight = Sum(
        Case(
            *[When(severity=s, then=Value(w)) for s, w in RISK_WEIGHTS.items()],
            default=Value(0),
            output_field=IntegerField(),
        )
    )
    per_severity = {s: Count("pk", filter=Q(severity=s)) for s in SEVERITIES}
    assets = (
        Finding.objects.filter(team_id=team_id, is_latest=True, status=Finding.Status.OPEN)
        .exclude(item="")
        .values("item", "asset_id")
        .annotate(score=weight, **per_severity)
        .filter(score__gt=0)
        .order_by("-score", "item")[:TOP_ASSETS]
    )
    rows: list[dict[str, Any]] = list(assets)  # type: ignore[arg-type]
    top = [
        {
            "item": a["item"],
            "asset": a["asset_id"],  # its inventory page
            "score": a["score"],
            "counts": {s: a[s] for s in SEVERITIES},
        }
        for a in rows
    ]
    team = Team.objects.get(pk=team_id)
    overdue, due_soon = _deadline_counts(team)
    groups, top_groups = _open_groups(team_id)
    row, _ = OpenFindingsDay.objects.update_or_create(
        team_id=team_id,
        day=timezone.localdate(),
        defaults={
            "counts": counts,
            "total": sum(counts.values()),
            "top_assets": top,
            "overdue": overdue,
            "due_soon": due_soon,
            "groups": groups,
            "top_groups": top_groups,
            "refreshed_at": timezone.now(),
        },
    )
    return row


def _deadline_counts(team: Team) -> tuple[int, int]:
    """Open findings (one per fingerprint) past their SLA, and due within DUE_SOON_DAYS."""
    now = timezone.now()
    overdue = due_soon = Q(pk__in=[])
    for severity, days in team.sla_days.items():
        deadline = now - timedelta(days=days)
        overdue |= Q(severity=severity, first_seen_at__lte=deadline)
        due_soon |= Q(
            severity=severity,
            first_seen_at__gt=deadline,
            first_seen_at__lte=deadline + timedelta(days=DUE_SOON_DAYS),
        )
    figures = FindingState.objects.filter(team=team, status=Finding.Status.OPEN).aggregate(
        overdue=Count("pk", filter=overdue), due_soon=Count("pk", filter=due_soon)
    )
    return int(figures["overdue"] or 0), int(figures["due_soon"] or 0)


def _open_groups(team_id: int) -> tuple[int, list[dict[str, Any]]]:
    """How many rules / CVEs have open findings, and the worst TOP_GROUPS of them."""
    rank = {r: s for r, s in enumerate(reversed(SEVERITIES))}
    open_latest = Finding.objects.filter(
        team_id=team_id, is_latest=True, status=Finding.Status.OPEN
    )
    # One pass without DISTINCT counts over every open finding; the assets (a DISTINCT) are
    # counted for the few groups shown.
    rows = list(
        open_latest.values("rule_id")
        .annotate(worst=Max("severity_rank"), findings=Count("pk"))
        .order_by("-worst", "-findings", "rule_id")
    )
    shown = rows[:TOP_GROUPS]
    details: dict[str, dict[str, Any]] = {
        r["rule_id"]: dict(r)
        for r in open_latest.filter(rule_id__in=[g["rule_id"] for g in shown])
        .values("rule_id")
        .annotate(assets=Count("item", distinct=True), title=Min("title"))
    }
    top = [
        {"rule_id": r["rule_id"], "title": details.get(r["rule_id"], {}).get("title", ""),
         "worst": rank.get(r["worst"], "info"), "findings": r["findings"],
         "assets": details.get(r["rule_id"], {}).get("assets", 0)}
        for r in shown
    ]  # fmt: skip
    return len(rows), top


def open_findings_trend(team: Team, *, days: int = TREND_DAYS) -> list[tuple[date, dict[str, int]]]:
    """Open findings per day for the last `days` days; a day without a row carries the previous
    day's figures (nothing changed that day)."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = {r.day: r.counts for r in OpenFindingsDay.objects.filter(team=team, day__gte=start)}
    before = OpenFindingsDay.objects.filter(team=team, day__lt=start).order_by("-day").first()
    current: dict[str, int] = dict(before.counts) if before else {}
    points = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        current = dict(rows.get(day, current))
        points.append((day, {s: int(current.get(s, 0)) for s in SEVERITIES}))
    return points


@dataclass
class Dashboard:
    counts: dict[str, int]
    total_open: int
    overdue: int
    due_soon: int
    groups: int
    top_groups: list[dict[str, Any]]
    refreshed_at: Any
    trend: list[tuple[date, dict[str, int]]]
    top_assets: list[dict[str, Any]]
    running: list[Scan]
    recent: list[Scan]
    expiring: list[Any]

    @property
    def counts_list(self) -> list[tuple[str, int]]:
        return [(s, self.counts.get(s, 0)) for s in SEVERITIES]

    @property
    def severity_chart(self) -> Any:
        return severity_bars_svg(self.counts)

    @property
    def trend_chart(self) -> Any:
        return trend_svg(self.trend)


def running_scans(team: Team, limit: int = 10) -> list[Scan]:
    return list(
        Scan.objects.filter(team=team)
        .exclude(status__in=SCAN_TERMINAL)
        .defer("graph", "plan")
        .order_by("-created_at", "-pk")[:limit]
    )


def dashboard_for(team: Team) -> Dashboard:
    """Everything the home page shows, in a fixed number of small queries."""

    latest = OpenFindingsDay.objects.filter(team=team).order_by("-day").first()
    if latest is None:
        latest = open_findings_refresh(team.pk)
    counts = {s: int((latest.counts if latest else {}).get(s, 0)) for s in SEVERITIES}
    now = timezone.now()
    expiring = list(
        Target.objects.filter(
            team=team,
            excluded=False,
            expires_at__gte=now,
            expires_at__lt=now + timedelta(days=EXPIRING_WITHIN_DAYS),
        ).order_by("expires_at")[:8]
    )
    recent = list(
        # A dry run executed nothing: it is not a finished scan of the team's surface.
        Scan.objects.filter(team=team, status__in=SCAN_TERMINAL)
        .exclude(mode__in=["dry_run", "demo"])
        .defer("graph", "plan")
        .order_by("-created_at", "-pk")[:8]
    )
    return Dashboard(
        counts=counts,
        total_open=sum(counts.values()),
        overdue=latest.overdue if latest else 0,
        due_soon=latest.due_soon if latest else 0,
        groups=latest.groups if latest else 0,
        top_groups=list(latest.top_groups) if latest else [],
        refreshed_at=latest.refreshed_at if latest else None,
        trend=open_findings_trend(team),
        top_assets=list(latest.top_assets) if latest else [],
        running=running_scans(team),
        recent=recent,
        expiring=expiring,
    )
