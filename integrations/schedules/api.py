"""Scheduled scans API: CRUD, pause, resume."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.http import team_of, user_of
from config.serializers import ConsentField, StrictSerializer, detail_responses, validated_body
from integrations.models import ScanSchedule
from integrations.schedules import services as schedules
from scans.models import Scan
from targets.models import Target
from workflows.models import Workflow

ERRORS = detail_responses(400, 401, 403, 404)


class ScheduleSerializer(serializers.ModelSerializer):
    workflow: serializers.PrimaryKeyRelatedField[Workflow] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    targets: serializers.PrimaryKeyRelatedField[Target] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    cadence = serializers.CharField(read_only=True)
    next_run_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="null while paused"
    )
    last_scan: serializers.PrimaryKeyRelatedField[Scan] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    last_error = serializers.CharField(
        read_only=True, help_text="Why the last run did not start a scan; empty when it did"
    )
    consented_by = serializers.EmailField(source="consented_by.email", read_only=True, default=None)

    class Meta:
        model = ScanSchedule
        fields = [
            "id", "name", "workflow", "workflow_name", "targets", "cron", "every_hours", "cadence",
            "is_paused", "next_run_at", "last_run_at", "last_scan", "last_error", "runs_count",
            "failures_count", "has_consent", "consented_by", "consented_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ScheduleCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=schedules.NAME_MAX)
    workflow = serializers.IntegerField(min_value=1)
    targets = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000
    )
    cron = serializers.CharField(
        required=False, allow_blank=True, max_length=100,
        help_text="Five-field cron expression in UTC, e.g. `0 3 * * 1`; or give every_hours",
    )  # fmt: skip
    every_hours = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=schedules.MAX_EVERY_HOURS
    )
    authorize_targets = ConsentField(
        help_text="Consent: you are authorized to scan these targets on this schedule. Required true."
    )


class ScheduleUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=schedules.NAME_MAX, required=False)
    workflow = serializers.IntegerField(min_value=1, required=False)
    targets = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000, required=False
    )
    cron = serializers.CharField(required=False, allow_blank=True, max_length=100)
    every_hours = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=schedules.MAX_EVERY_HOURS
    )
    authorize_targets = ConsentField(
        required=False, help_text="Required true when workflow or targets change"
    )


@extend_schema(tags=["schedules"])
@extend_schema_view(
    list=extend_schema(summary="List schedules"),
    retrieve=extend_schema(summary="A schedule", responses={200: ScheduleSerializer, **ERRORS}),
)
class ScheduleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ScanSchedule]
):
    """Scans that run by cron expression or every N hours."""

    serializer_class = ScheduleSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[ScanSchedule]:
        return schedules.schedules_for(team_of(self.request))

    @extend_schema(
        summary="Schedule a workflow on targets (cron or every_hours)",
        request=ScheduleCreateSerializer,
        responses={201: ScheduleSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = validated_body(ScheduleCreateSerializer, request)
        schedule = schedules.schedule_create(
            team=team_of(request), user=user_of(request), name=data["name"],
            workflow_id=data["workflow"], target_ids=data["targets"],
            consent=data["authorize_targets"], cron=data.get("cron", ""),
            every_hours=data.get("every_hours"),
        )  # fmt: skip
        return Response(self._shown(schedule), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a schedule (only the fields given)",
        request=ScheduleUpdateSerializer,
        responses={200: ScheduleSerializer, **ERRORS},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        data = validated_body(ScheduleUpdateSerializer, request)
        changes = {
            "name": data.get("name", schedules.UNSET),
            "workflow_id": data.get("workflow", schedules.UNSET),
            "target_ids": data.get("targets", schedules.UNSET),
            "cron": data.get("cron", schedules.UNSET),
            "every_hours": data.get("every_hours", schedules.UNSET),
            "consent": data.get("authorize_targets", schedules.UNSET),
        }
        schedules.schedule_update(schedule=schedule, user=user_of(request), **changes)
        return Response(self._shown(schedule))

    @extend_schema(summary="Delete a schedule (its scans stay)", responses={204: None, **ERRORS})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedules.schedule_delete(schedule=self.get_object(), user=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Pause a schedule", request=None, responses={200: ScheduleSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        schedule = schedules.schedule_pause(schedule=self.get_object(), user=user_of(request))
        return Response(self._shown(schedule))

    @extend_schema(
        summary="Resume a schedule (the next run is computed from now)",
        request=None,
        responses={200: ScheduleSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        schedule = schedules.schedule_resume(schedule=self.get_object(), user=user_of(request))
        return Response(self._shown(schedule))

    def _shown(self, schedule: ScanSchedule) -> Any:
        return ScheduleSerializer(self.get_queryset().get(pk=schedule.pk)).data
