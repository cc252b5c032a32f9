"""Findings API across scans: list with filters and sorts, detail with history, triage (one or
many, by id; the status sticks to the fingerprint)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.http import team_of, user_of
from accounts.models import Role
from config.serializers import DetailSerializer, StrictSerializer
from scans.findings.queries import (
    SORT_LABELS,
    CappedPaginator,
    FindingFilterForm,
    findings_for_team,
)
from scans.findings.triage import COMMENT_MAX, TRIAGE_MAX, finding_history, finding_triage
from scans.models import Finding, FindingEvent, FindingState, Severity

ERRORS = {s: DetailSerializer for s in (400, 401, 403, 404)}


class FindingSerializer(serializers.ModelSerializer):
    scan: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )

    class Meta:
        model = Finding
        fields = [
            "id", "scan", "tool", "severity", "title", "description", "remediation", "rule_id",
            "component", "version", "fixed_version", "location", "item", "evidence", "references",
            "tags", "fingerprint", "status", "first_seen_at", "last_seen_at",
        ]  # fmt: skip
        read_only_fields = fields


class FindingListSerializer(FindingSerializer):
    workflow_name = serializers.CharField(source="scan.workflow_name", read_only=True)

    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "workflow_name", "is_latest", "created_at"]
        read_only_fields = fields


class FindingEventSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(
        read_only=True,
        help_text="triage (a person), reopened (seen again), auto_fixed (not seen again)",
    )
    user = serializers.EmailField(source="user.email", read_only=True, default=None)
    scan = serializers.PrimaryKeyRelatedField(read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = FindingEvent
        fields = ["id", "created_at", "kind", "from_status", "to_status", "comment", "user", "scan"]
        read_only_fields = fields


class FindingDetailSerializer(FindingListSerializer):
    comment = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    class Meta(FindingListSerializer.Meta):
        fields = [*FindingListSerializer.Meta.fields, "comment", "history"]
        read_only_fields = fields

    def _state(self, obj: Finding) -> FindingState | None:
        return FindingState.objects.filter(team_id=obj.team_id, fingerprint=obj.fingerprint).first()

    @extend_schema_field(OpenApiTypes.STR)
    def get_comment(self, obj: Finding) -> str:
        state = self._state(obj)
        return state.comment if state else ""

    @extend_schema_field(FindingEventSerializer(many=True))
    def get_history(self, obj: Finding) -> list[dict[str, Any]]:
        events = finding_history(team=obj.team, fingerprint=obj.fingerprint)
        return list(FindingEventSerializer(events, many=True).data)


class TriageSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Finding.Status.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX)


class BulkTriageSerializer(TriageSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=TRIAGE_MAX,
        help_text=f"Finding ids (at most {TRIAGE_MAX}); every occurrence of each finding changes.",
    )  # fmt: skip


class TriageResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    requested = serializers.IntegerField(help_text="Distinct findings (fingerprints) asked for")
    changed = serializers.IntegerField()
    not_found = serializers.ListField(child=serializers.IntegerField())


class CappedPagination(PageNumberPagination):
    """`?page=N&page_size=M` (at most 500); the count stops at 10,000 (`count_is_exact`)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data: Any) -> Response:
        paginator: Any = self.page.paginator  # type: ignore[union-attr]
        return Response(
            {
                "count": min(paginator.count, paginator.cap),
                "count_is_exact": paginator.is_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        base = super().get_paginated_response_schema(schema)
        base["properties"]["count_is_exact"] = {"type": "boolean"}
        return base


FILTER_PARAMETERS = [
    OpenApiParameter("severity", str, description="One or more (comma-separated) of " + ", ".join(Severity.values)),
    OpenApiParameter("status", str, description="One or more of " + ", ".join(Finding.Status.values)),
    OpenApiParameter("tool", str),
    OpenApiParameter("rule_id", str),
    OpenApiParameter("asset", str, description="The item a finding is about (host, URL, image)"),
    OpenApiParameter("target", int, description="Findings of scans of this target id"),
    OpenApiParameter("scan", int, description="That scan's findings (else the latest occurrence of each)"),
    OpenApiParameter("q", str, description="Text in title, rule id, component or location"),
    OpenApiParameter("first_seen_after", OpenApiTypes.DATETIME),
    OpenApiParameter("first_seen_before", OpenApiTypes.DATETIME),
    OpenApiParameter("sort", str, enum=list(SORT_LABELS)),
]  # fmt: skip


@extend_schema(tags=["findings"])
class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = CappedPagination
    action_roles = {"triage": Role.ANALYST, "bulk_triage": Role.ANALYST}

    def get_queryset(self) -> QuerySet[Finding]:
        team = team_of(self.request)
        if self.action != "list":
            return Finding.objects.filter(team=team).select_related("scan")
        form = FindingFilterForm(self.request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError(form.errors.get_json_data())
        return findings_for_team(team, **form.filters())

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return FindingDetailSerializer if self.action == "retrieve" else FindingListSerializer

    @extend_schema(
        summary="Findings across scans (one row per finding: its latest occurrence), filtered and sorted",
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: FindingListSerializer(many=True), **ERRORS},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One finding with its triage comment and history",
        responses={200: FindingDetailSerializer, **ERRORS},
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Triage one finding: open, false_positive, accepted or fixed (sticks to its fingerprint)",
        request=TriageSerializer,
        responses={200: FindingDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def triage(self, request: Request, pk: str | None = None) -> Response:
        finding = self.get_object()
        body = TriageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        finding_triage(
            team=team_of(request),
            fingerprints=[finding.fingerprint],
            user=user_of(request),
            status=body.validated_data["status"],
            comment=body.validated_data.get("comment", ""),
        )
        finding.refresh_from_db()
        return Response(FindingDetailSerializer(finding).data)

    @extend_schema(
        operation_id="findings_triage_bulk",
        summary=f"Triage up to {TRIAGE_MAX} findings at once, by id",
        request=BulkTriageSerializer,
        responses={200: TriageResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="triage")
    def bulk_triage(self, request: Request) -> Response:
        body = BulkTriageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team = team_of(request)
        ids = sorted(set(body.validated_data["ids"]))
        found: dict[int, str] = {}
        for start in range(0, len(ids), 2000):
            chunk = ids[start : start + 2000]
            found.update(
                Finding.objects.filter(team=team, pk__in=chunk).values_list("pk", "fingerprint")
            )
        result = finding_triage(
            team=team,
            fingerprints=found.values(),
            user=user_of(request),
            status=body.validated_data["status"],
            comment=body.validated_data.get("comment", ""),
        )
        return Response(
            {
                "status": result.status,
                "requested": result.requested,
                "changed": result.changed,
                "not_found": [pk for pk in ids if pk not in found],
            }
        )
