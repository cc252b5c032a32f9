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

from accounts.http import role_of, team_of, user_of
from accounts.models import Membership, Role
from config.serializers import DetailSerializer, StrictSerializer
from scans.findings.acceptance import AcceptanceRefused, acceptance_decide
from scans.findings.ownership import finding_assign, findings_decorate
from scans.findings.queries import (
    SORT_LABELS,
    CappedPaginator,
    FindingFilterForm,
    findings_for_team,
)
from scans.findings.triage import COMMENT_MAX, TRIAGE_MAX, finding_history, finding_triage
from scans.models import Finding, FindingEvent, FindingState, Severity

ERRORS = {s: DetailSerializer for s in (400, 401, 403, 404)}


class FindingAssigneeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class FindingSerializer(serializers.ModelSerializer):
    """A finding with its structured vulnerability fields and, from its triage state, its owner
    and deadline (the views call scans.findings.ownership.findings_decorate first)."""

    scan: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    cvss_score = serializers.FloatField(
        read_only=True, allow_null=True, help_text="v4.0 base score when known, else v3.x"
    )
    cvss_severity = serializers.CharField(
        read_only=True, help_text="CVSS rating of cvss_score (None…Critical); empty without one"
    )
    assignee = serializers.SerializerMethodField()
    due_at = serializers.SerializerMethodField(
        help_text="First seen + the team's SLA days for the severity (null: no deadline)"
    )
    sla_breached = serializers.SerializerMethodField(help_text="Open and past its due date")
    sla_state = serializers.SerializerMethodField(help_text="overdue, due_soon or empty")
    acceptance = serializers.SerializerMethodField(
        help_text="pending (waiting for an owner), approved, or empty"
    )
    accepted_until = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = [
            "id", "scan", "tool", "severity", "title", "description", "remediation", "rule_id",
            "component", "version", "fixed_version", "has_fix", "location", "item", "evidence",
            "references", "tags", "cvss_v3_vector", "cvss_v3_score", "cvss_v4_vector",
            "cvss_v4_score", "cvss_score", "cvss_severity", "cwe_ids", "vuln_ids", "epss_score",
            "epss_percentile", "is_kev", "fingerprint", "status", "first_seen_at", "last_seen_at",
            "assignee", "due_at", "sla_breached", "sla_state", "acceptance", "accepted_until",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(FindingAssigneeSerializer(allow_null=True))
    def get_assignee(self, obj: Finding) -> dict[str, Any] | None:
        user = getattr(obj, "assignee", None)
        return {"id": user.pk, "email": user.email} if user is not None else None

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_due_at(self, obj: Finding) -> Any:
        due = getattr(obj, "due_at", None)
        return due.isoformat() if due else None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_sla_breached(self, obj: Finding) -> bool:
        return getattr(obj, "sla_state", "") == "overdue"

    @extend_schema_field(OpenApiTypes.STR)
    def get_sla_state(self, obj: Finding) -> str:
        return str(getattr(obj, "sla_state", ""))

    @extend_schema_field(OpenApiTypes.STR)
    def get_acceptance(self, obj: Finding) -> str:
        return str(getattr(obj, "acceptance", ""))

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_accepted_until(self, obj: Finding) -> Any:
        until = getattr(obj, "accepted_until", None)
        return until.isoformat() if until else None


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
    accept_reason = serializers.SerializerMethodField(help_text="Why the risk is accepted")
    history = serializers.SerializerMethodField()

    class Meta(FindingListSerializer.Meta):
        fields = [*FindingListSerializer.Meta.fields, "comment", "accept_reason", "history"]
        read_only_fields = fields

    def _state(self, obj: Finding) -> FindingState | None:
        return FindingState.objects.filter(team_id=obj.team_id, fingerprint=obj.fingerprint).first()

    @extend_schema_field(OpenApiTypes.STR)
    def get_comment(self, obj: Finding) -> str:
        state = self._state(obj)
        return state.comment if state else ""

    @extend_schema_field(OpenApiTypes.STR)
    def get_accept_reason(self, obj: Finding) -> str:
        return str(getattr(obj, "accept_reason", ""))

    @extend_schema_field(FindingEventSerializer(many=True))
    def get_history(self, obj: Finding) -> list[dict[str, Any]]:
        events = finding_history(team=obj.team, fingerprint=obj.fingerprint)
        return list(FindingEventSerializer(events, many=True).data)


class TriageSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Finding.Status.choices)
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=COMMENT_MAX,
        help_text="Why; required for `accepted` (the acceptance's reason)",
    )  # fmt: skip
    accepted_until = serializers.DateTimeField(
        required=False, help_text="Required for `accepted`: when the acceptance ends (≤ 365 days)"
    )


class BulkTriageSerializer(TriageSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=TRIAGE_MAX,
        help_text=f"Finding ids (at most {TRIAGE_MAX}); every occurrence of each finding changes.",
    )  # fmt: skip


class TriageResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    requested = serializers.IntegerField(help_text="Distinct findings (fingerprints) asked for")
    changed = serializers.IntegerField()
    pending = serializers.IntegerField(
        help_text="Acceptances of critical/high findings waiting for an owner's approval"
    )
    not_found = serializers.ListField(child=serializers.IntegerField())


class AssignSerializer(StrictSerializer):
    assignee = serializers.IntegerField(
        min_value=1, allow_null=True, help_text="A team member's user id; null unassigns"
    )


class BulkAssignSerializer(AssignSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=TRIAGE_MAX
    )


class AcceptanceDecisionSerializer(StrictSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=TRIAGE_MAX
    )
    approve = serializers.BooleanField(help_text="true approves, false refuses")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX)


class CountResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField()
    not_found = serializers.ListField(child=serializers.IntegerField())


def fingerprints_by_id(team: Any, ids: list[int]) -> dict[int, str]:
    """{finding id: fingerprint} of the team's findings among `ids` (others are not found)."""
    found: dict[int, str] = {}
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        found.update(
            Finding.objects.filter(team=team, pk__in=chunk).values_list("pk", "fingerprint")
        )
    return found


def triage_apply(request: Request, fingerprints: Any, data: dict[str, Any]) -> Any:
    """finding_triage with the request's team, user and role; a refused acceptance is a 400."""
    try:
        return finding_triage(
            team=team_of(request), fingerprints=fingerprints, user=user_of(request),
            status=data["status"], comment=data.get("comment", ""),
            accepted_until=data.get("accepted_until"), role=role_of(request),
        )  # fmt: skip
    except AcceptanceRefused as exc:
        raise serializers.ValidationError(exc.errors) from None


def assignee_of(team: Any, user_id: int | None) -> Any:
    if user_id is None:
        return None
    member = Membership.objects.filter(team=team, user_id=user_id).select_related("user").first()
    if member is None:
        raise serializers.ValidationError({"assignee": ["Not a member of this team."]})
    return member.user


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
    OpenApiParameter("cvss_min", float, description="CVSS base score (v4.0, else v3.x) at least"),
    OpenApiParameter("has_fix", bool, description="A fixed version or patch exists"),
    OpenApiParameter("kev", bool, description="In CISA's Known Exploited Vulnerabilities"),
    OpenApiParameter("cwe", str, description="CWE id, e.g. CWE-79"),
    OpenApiParameter("assignee", str, description="A member's user id, `me` or `none`"),
    OpenApiParameter("due", str, enum=["overdue", "due_soon"]),
    OpenApiParameter("diff", str, enum=["new", "fixed", "still_open"], description="With `scan`: against the previous scan"),
    OpenApiParameter("sort", str, enum=list(SORT_LABELS)),
]  # fmt: skip


@extend_schema(tags=["findings"])
class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = CappedPagination
    action_roles = {
        "triage": Role.ANALYST, "bulk_triage": Role.ANALYST, "assign": Role.ANALYST,
        "bulk_assign": Role.ANALYST, "acceptance": Role.OWNER,
    }  # fmt: skip

    def get_queryset(self) -> QuerySet[Finding]:
        team = team_of(self.request)
        if self.action != "list":
            return Finding.objects.filter(team=team).select_related("scan")
        form = FindingFilterForm(self.request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError(form.errors.get_json_data())
        return findings_for_team(team, user=self.request.user, **form.filters())

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return FindingDetailSerializer if self.action == "retrieve" else FindingListSerializer

    def _detail(self, finding: Finding) -> Response:
        findings_decorate(team_of(self.request), [finding])
        return Response(FindingDetailSerializer(finding).data)

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
        page = self.paginate_queryset(self.get_queryset())
        rows = findings_decorate(team_of(request), list(page or []))
        return self.get_paginated_response(FindingListSerializer(rows, many=True).data)

    @extend_schema(
        summary="One finding with its triage comment and history",
        responses={200: FindingDetailSerializer, **ERRORS},
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._detail(self.get_object())

    @extend_schema(
        summary="Triage one finding: open, false_positive, accepted (with a reason and an expiry) "
        "or fixed (sticks to its fingerprint)",
        request=TriageSerializer,
        responses={200: FindingDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def triage(self, request: Request, pk: str | None = None) -> Response:
        finding = self.get_object()
        body = TriageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        triage_apply(request, [finding.fingerprint], body.validated_data)
        finding.refresh_from_db()
        return self._detail(finding)

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
        ids = sorted(set(body.validated_data["ids"]))
        found = fingerprints_by_id(team_of(request), ids)
        result = triage_apply(request, found.values(), body.validated_data)
        return Response(
            {
                "status": result.status,
                "requested": result.requested,
                "changed": result.changed,
                "pending": result.pending,
                "not_found": [pk for pk in ids if pk not in found],
            }
        )

    @extend_schema(
        summary="Assign one finding to a team member (who is e-mailed), or unassign it (null)",
        request=AssignSerializer,
        responses={200: FindingDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        finding = self.get_object()
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team = team_of(request)
        assignee = assignee_of(team, body.validated_data["assignee"])
        finding_assign(
            team=team, fingerprints=[finding.fingerprint], assignee=assignee, user=user_of(request)
        )
        return self._detail(finding)

    @extend_schema(
        operation_id="findings_assign_bulk",
        summary=f"Assign up to {TRIAGE_MAX} findings (e.g. a whole group) to a team member",
        request=BulkAssignSerializer,
        responses={200: CountResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="assign")
    def bulk_assign(self, request: Request) -> Response:
        body = BulkAssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team = team_of(request)
        assignee = assignee_of(team, body.validated_data["assignee"])
        ids = sorted(set(body.validated_data["ids"]))
        found = fingerprints_by_id(team, ids)
        changed = finding_assign(
            team=team, fingerprints=found.values(), assignee=assignee, user=user_of(request)
        )
        return Response({"changed": changed, "not_found": [pk for pk in ids if pk not in found]})

    @extend_schema(
        operation_id="findings_acceptance_decide",
        summary="Owners: approve or refuse pending risk acceptances of critical/high findings",
        request=AcceptanceDecisionSerializer,
        responses={200: CountResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="acceptance")
    def acceptance(self, request: Request) -> Response:
        body = AcceptanceDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team = team_of(request)
        ids = sorted(set(body.validated_data["ids"]))
        found = fingerprints_by_id(team, ids)
        changed = acceptance_decide(
            team=team, fingerprints=found.values(), user=user_of(request),
            approve=body.validated_data["approve"], comment=body.validated_data.get("comment", ""),
        )  # fmt: skip
        return Response({"changed": changed, "not_found": [pk for pk in ids if pk not in found]})
