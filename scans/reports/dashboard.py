"""The dashboard's figures: open findings by severity, their 30-day trend, the riskiest assets,
running and recent scans, expiring authorizations.

Counting a million findings on every page view is what makes dashboards slow, so the counts and
the top assets are computed off the request (`open_findings_refresh`, when a scan finishes and
after triage) into one small `OpenFindingsDay` row per team and day; the page reads at most 31
of them plus a few indexed, LIMITed queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.utils import timezone

from accounts.models import Team
from scans.engine.runtime import SEVERITIES
from scans.models import SCAN_TERMINAL, Finding, FindingState, OpenFindingsDay, Scan
from scans.reports.charts import severity_bars_svg, trend_svg
from targets.models import Target

TREND_DAYS = 30
TOP_ASSETS = 8
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
    row, _ = OpenFindingsDay.objects.update_or_create(
        team_id=team_id,
        day=timezone.localdate(),
        defaults={
            "counts": counts,
            "total": sum(counts.values()),
            "top_assets": top,
            "refreshed_at": timezone.now(),
        },
    )
    return row


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
        Scan.objects.filter(team=team, status__in=SCAN_TERMINAL)
        .defer("graph", "plan")
        .order_by("-created_at", "-pk")[:8]
    )
    return Dashboard(
        counts=counts,
        total_open=sum(counts.values()),
        refreshed_at=latest.refreshed_at if latest else None,
        trend=open_findings_trend(team),
        top_assets=list(latest.top_assets) if latest else [],
        running=running_scans(team),
        recent=recent,
        expiring=expiring,
    )
