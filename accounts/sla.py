"""`GET|PATCH /api/v1/teams/sla`: the team's days to fix an open finding by severity (the due
dates of findings follow them at once; see scans.findings.ownership)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.http import team_of, user_of
from accounts.models import SLA_MAX_DAYS, Role
from config.serializers import StrictSerializer, detail_responses, validated_body


class SlaSerializer(StrictSerializer):
    critical = serializers.IntegerField(min_value=1, max_value=SLA_MAX_DAYS, required=False)
    high = serializers.IntegerField(min_value=1, max_value=SLA_MAX_DAYS, required=False)
    medium = serializers.IntegerField(min_value=1, max_value=SLA_MAX_DAYS, required=False)
    low = serializers.IntegerField(min_value=1, max_value=SLA_MAX_DAYS, required=False)


ERRORS = detail_responses(400, 401, 403)


class TeamSlaView(APIView):
    """Anyone in the team reads the deadlines; owners change them."""

    def get_permissions(self) -> Any:
        self.required_role = Role.OWNER if self.request.method == "PATCH" else Role.VIEWER
        return super().get_permissions()

    @extend_schema(
        tags=["teams"],
        summary="The team's days to fix an open finding by severity (info has no deadline)",
        responses={200: SlaSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(team_of(request).sla_days)

    @extend_schema(
        tags=["teams"],
        summary="Owners: change the days to fix findings (due dates follow at once)",
        request=SlaSerializer,
        responses={200: SlaSerializer, **ERRORS},
    )
    def patch(self, request: Request) -> Response:
        days = validated_body(SlaSerializer, request)
        try:
            team = services.team_sla_update(team=team_of(request), user=user_of(request), days=days)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return Response(team.sla_days)
