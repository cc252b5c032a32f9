"""`GET /api/v1/metrics`: the team's figures for dashboards and CI (staff also get totals across
all teams). Not Prometheus (that is /metrics, config.prometheus)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import team_of
from accounts.models import ApiKey, Team
from config.serializers import DetailSerializer
from scans.engine.runtime import SEVERITIES
from scans.models import SCAN_TERMINAL, Finding, FindingState, OpenFindingsDay, Scan, ScanStatus


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
    open_findings_as_of = serializers.DateTimeField(allow_null=True)
    all_teams = MetricsBlockSerializer(required=False, help_text="Staff only: every team")
    teams = serializers.IntegerField(required=False, help_text="Staff only")


def _block(team: Team | None) -> dict[str, Any]:
    from targets.models import Target
    from workflows.models import Workflow

    scope = {"team": team} if team is not None else {}
    by_status = dict(
        Scan.objects.filter(**scope)
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
        if getattr(request.user, "is_staff", False):
            body["all_teams"] = _block(None)
            body["teams"] = Team.objects.count()
        return Response(body)
