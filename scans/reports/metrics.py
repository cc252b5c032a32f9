"""`GET /api/v1/metrics`: the team's figures for dashboards and CI (staff also get totals across
all teams). Not Prometheus (that is /metrics, config.prometheus)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import team_of
from accounts.models import ApiKey, Team
from config.prometheus import STEP_BUCKETS_S, Exposition
from config.serializers import DetailSerializer
from scans.engine.runtime import SEVERITIES
from scans.models import (
    SCAN_TERMINAL,
    Finding,
    FindingState,
    OpenFindingsDay,
    Scan,
    ScanStatus,
    ScanStep,
    StepStatus,
)
from targets.models import Target
from workflows.models import Workflow


class MetricsBlockSerializer(serializers.Serializer):
    workflows = serializers.IntegerField()
    scans = serializers.IntegerField()
    scans_by_status = serializers.DictField(child=serializers.IntegerField())
    success_rate = serializers.FloatField(
        allow_null=True, help_text="Completed / finished scans (null before any scan finished)"
    )
    active_api_keys = serializers.IntegerField()
    targets = serializers.IntegerField()
    open_findings = serializers.DictField(child=serializers.IntegerField())
    open_findings_total = serializers.IntegerField()


class MetricsSerializer(MetricsBlockSerializer):
    team = serializers.CharField()
    overdue_findings = serializers.IntegerField(help_text="Open findings past their SLA")
    due_soon_findings = serializers.IntegerField(help_text="Open findings due within 7 days")
    open_groups = serializers.IntegerField(help_text="Rules / CVEs with open findings")
    open_findings_as_of = serializers.DateTimeField(allow_null=True)
    all_teams = MetricsBlockSerializer(required=False, help_text="Staff only: every team")
    teams = serializers.IntegerField(required=False, help_text="Staff only")


def _block(team: Team | None) -> dict[str, Any]:

    scope = {"team": team} if team is not None else {}
    by_status = dict(
        Scan.objects.filter(**scope)
        .exclude(mode=Scan.Mode.DEMO)  # a demo is never counted
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    finished = sum(by_status.get(s, 0) for s in SCAN_TERMINAL)
    now = timezone.now()
    keys = ApiKey.objects.filter(**scope, revoked_at=None).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    if team is not None:
        latest = OpenFindingsDay.objects.filter(team=team).order_by("-day").first()
        open_counts = dict(latest.counts) if latest else None
    else:
        open_counts = None
    if open_counts is None:
        open_counts = dict(
            FindingState.objects.filter(**scope, status=Finding.Status.OPEN)
            .values_list("severity")
            .annotate(n=Count("pk"))
            .values_list("severity", "n")
        )
    open_findings = {s: int(open_counts.get(s, 0)) for s in SEVERITIES}
    return {
        "workflows": Workflow.objects.filter(**scope).count(),
        "scans": sum(by_status.values()),
        "scans_by_status": {s: by_status.get(s, 0) for s in ScanStatus.values},
        "success_rate": round(by_status.get(ScanStatus.COMPLETED, 0) / finished, 4)
        if finished
        else None,
        "active_api_keys": keys.count(),
        "targets": Target.objects.filter(**scope).count(),
        "open_findings": open_findings,
        "open_findings_total": sum(open_findings.values()),
    }


class MetricsView(APIView):
    @extend_schema(
        tags=["metrics"],
        summary="The team's workflows, scans by status, success rate, API keys, targets and open "
        "findings by severity (staff: also totals across teams)",
        responses={200: MetricsSerializer, 401: DetailSerializer, 403: DetailSerializer},
    )
    def get(self, request: Request) -> Response:
        team = team_of(request)
        body = {"team": team.name, **_block(team)}
        latest = OpenFindingsDay.objects.filter(team=team).order_by("-day").first()
        body["open_findings_as_of"] = latest.refreshed_at if latest else None
        body["overdue_findings"] = latest.overdue if latest else 0
        body["due_soon_findings"] = latest.due_soon if latest else 0
        body["open_groups"] = latest.groups if latest else 0
        if getattr(request.user, "is_staff", False):
            body["all_teams"] = _block(None)
            body["teams"] = Team.objects.count()
        return Response(body)


# --- Prometheus (/metrics, config.prometheus) -----------------------------------------------


def prometheus_scans(out: Exposition) -> None:
    """`/metrics` (config.prometheus): scans by status, queued and running steps, and the run
    time of finished steps by node type and outcome, computed per scrape."""

    by_status = dict(
        Scan.objects.exclude(mode=Scan.Mode.DEMO)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    out.family("outpost_scans", "gauge", "Scans by status.")
    for status in ScanStatus.values:
        out.sample("outpost_scans", by_status.get(status, 0), status=status)

    live = dict(
        ScanStep.objects.filter(status__in=[StepStatus.QUEUED, StepStatus.RUNNING])
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    out.family("outpost_scan_steps", "gauge", "Scan steps waiting in the queue or running.")
    for status in (StepStatus.QUEUED, StepStatus.RUNNING):
        out.sample("outpost_scan_steps", live.get(status, 0), status=status)

    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    aggregates: dict[str, Any] = {
        f"le_{i}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(STEP_BUCKETS_S)
    }
    rows: Iterable[Any] = (
        ScanStep.objects.filter(
            status__in=[StepStatus.COMPLETED, StepStatus.FAILED],
            started_at__isnull=False,
            finished_at__isnull=False,
        )
        .exclude(scan__mode=Scan.Mode.DEMO)
        .annotate(duration=duration)
        .values("node_type", "status")
        .annotate(total=Count("id"), seconds=Sum("duration"), **aggregates)
        .order_by("node_type", "status")
    )
    out.family(
        "outpost_scan_step_duration_seconds",
        "histogram",
        "Run time of finished scan steps, by node type and outcome.",
    )
    for row in rows:
        row = dict(row)  # the bucket keys are built at run time
        cumulative = [int(row[f"le_{i}"]) for i in range(len(STEP_BUCKETS_S))] + [int(row["total"])]
        seconds = row["seconds"]
        total_s = (
            seconds.total_seconds()
            if isinstance(seconds, timedelta)
            else float(seconds or 0) / 1_000_000
        )
        out.histogram(
            "outpost_scan_step_duration_seconds",
            STEP_BUCKETS_S,
            cumulative,
            total_s,
            node_type=row["node_type"],
            status=row["status"],
        )
