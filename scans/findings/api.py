"""Findings API across scans: list with filters and sorts, detail with history, triage (one or
many, by id; the status sticks to the fingerprint)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from accounts.http import role_of, team_of, user_of
from accounts.models import Membership, Role
from config.pagination import Pagination, paginated_response
from config.serializers import detail_responses, validated_body
from scans.findings.acceptance import AcceptanceRefused, acceptance_decide
from scans.findings.groups import GROUPS_PAGE, finding_groups, group_fingerprints
from scans.findings.ownership import finding_assign, findings_decorate
from scans.findings.queries import (
    SORT_LABELS,
    CappedPaginator,
    FindingFilterForm,
    findings_for_team,
)
from scans.findings.serializers import (
    AcceptanceDecisionSerializer,
    AssignSerializer,
    BulkAssignSerializer,
    BulkTriageSerializer,
    CountResultSerializer,
    FindingDetailSerializer,
    FindingGroupPageSerializer,
    FindingListSerializer,
    GroupAssignSerializer,
    GroupTriageSerializer,
    TriageResultSerializer,
    TriageSerializer,
)
from scans.findings.triage import TRIAGE_MAX, finding_triage
from scans.models import Finding, Severity

ERRORS = detail_responses(400, 401, 403, 404)


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


def _on_ids(
    request: Request,
    serializer_class: type[serializers.Serializer],
    apply: Callable[[dict[str, Any], Iterable[str]], dict[str, Any]],
) -> Response:
    """A bulk action on the team's findings among the body's `ids`: `apply(data, fingerprints)`
    says what changed, and the answer adds the ids that are not the team's findings."""
    data = validated_body(serializer_class, request)
    ids = sorted(set(data["ids"]))
    found = fingerprints_by_id(team_of(request), ids)
    not_found = [pk for pk in ids if pk not in found]
    return Response({**apply(data, found.values()), "not_found": not_found})


def _triaged(result: Any) -> dict[str, Any]:
    return {
        "status": result.status, "requested": result.requested, "changed": result.changed,
        "pending": result.pending,
    }  # fmt: skip


def assign_apply(
    request: Request, data: dict[str, Any], fingerprints: Callable[[], Iterable[str]]
) -> int:
    """finding_assign with the request's team and user to the body's `assignee`, checked first
    (a non-member is a 400 before the findings are looked up)."""
    team = team_of(request)
    assignee = assignee_of(team, data["assignee"])
    return finding_assign(
        team=team, fingerprints=fingerprints(), assignee=assignee, user=user_of(request)
    )


def assignee_of(team: Any, user_id: int | None) -> Any:
    if user_id is None:
        return None
    member = Membership.objects.filter(team=team, user_id=user_id).select_related("user").first()
    if member is None:
        raise serializers.ValidationError({"assignee": ["Not a member of this team."]})
    return member.user


class CappedPagination(Pagination):
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


def comma_separated(values: list[str]) -> dict[str, str]:
    """The schema of a filter taking one or more of `values`, comma-separated."""
    one = "|".join(values)
    return {"type": "string", "pattern": f"^({one})(,({one}))*$"}


FILTER_PARAMETERS = [
    OpenApiParameter("severity", comma_separated(Severity.values), description="One or more (comma-separated) of " + ", ".join(Severity.values)),
    OpenApiParameter("status", comma_separated(Finding.Status.values), description="One or more of " + ", ".join(Finding.Status.values)),
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
    OpenApiParameter("assignee", {"type": "string", "pattern": "^([0-9]+|me|none)$"}, description="A member's user id, `me` or `none`"),
    OpenApiParameter("due", str, enum=["overdue", "due_soon"]),
    OpenApiParameter("diff", str, enum=["new", "fixed", "still_open", "triaged"], description="With `scan`: against the previous scan"),
    OpenApiParameter("sort", str, enum=list(SORT_LABELS)),
]  # fmt: skip


@extend_schema(tags=["findings"])
class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = CappedPagination
    action_roles = {
        "triage": Role.ANALYST, "bulk_triage": Role.ANALYST, "assign": Role.ANALYST,
        "bulk_assign": Role.ANALYST, "acceptance": Role.OWNER, "groups_triage": Role.ANALYST,
        "groups_assign": Role.ANALYST,
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
        team = team_of(request)
        return paginated_response(
            self,
            self.get_queryset(),
            FindingListSerializer,
            lambda rows: findings_decorate(team, rows),
        )

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
        triage_apply(request, [finding.fingerprint], validated_body(TriageSerializer, request))
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
        return _on_ids(
            request, BulkTriageSerializer,
            lambda data, found: _triaged(triage_apply(request, found, data)),
        )  # fmt: skip

    @extend_schema(
        summary="Assign one finding to a team member (who is e-mailed), or unassign it (null)",
        request=AssignSerializer,
        responses={200: FindingDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        finding = self.get_object()
        assign_apply(
            request, validated_body(AssignSerializer, request), lambda: [finding.fingerprint]
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
        return _on_ids(
            request, BulkAssignSerializer,
            lambda data, found: {"changed": assign_apply(request, data, lambda: found)},
        )  # fmt: skip

    @extend_schema(
        operation_id="findings_acceptance_decide",
        summary="Owners: approve or refuse pending risk acceptances of critical/high findings",
        request=AcceptanceDecisionSerializer,
        responses={200: CountResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="acceptance")
    def acceptance(self, request: Request) -> Response:
        def decide(data: dict[str, Any], found: Iterable[str]) -> dict[str, Any]:
            changed = acceptance_decide(
                team=team_of(request), fingerprints=found, user=user_of(request),
                approve=data["approve"], comment=data.get("comment", ""),
            )  # fmt: skip
            return {"changed": changed}

        return _on_ids(request, AcceptanceDecisionSerializer, decide)

    def _where(self, request: Request, params: Any) -> dict[str, Any]:
        if isinstance(params, dict):  # a JSON body's `where`: values or lists of values
            query = QueryDict(mutable=True)
            for key, value in params.items():
                query.setlist(
                    str(key), [str(v) for v in (value if isinstance(value, list) else [value])]
                )
            params = query
        form = FindingFilterForm(params)
        if not form.is_valid():
            raise serializers.ValidationError(form.errors.get_json_data())
        return form.filters()

    @extend_schema(
        summary="Findings grouped by rule / CVE (packages, assets, worst severity, fix), worst "
        "first, under the list's filters; paginated without a total",
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int, description=f"Groups per page (≤ 200, {GROUPS_PAGE} by default)"),
        ],
        responses={200: FindingGroupPageSerializer, **ERRORS},
    )  # fmt: skip
    @action(detail=False, methods=["get"], url_path="groups")
    def groups(self, request: Request) -> Response:
        filters = self._where(request, request.query_params)
        page_no = _positive(request.query_params.get("page"), "page", 1)
        size = min(_positive(request.query_params.get("page_size"), "page_size", GROUPS_PAGE), 200)
        page = finding_groups(
            team_of(request), user=request.user, page=page_no, size=size, **filters
        )

        def link(number: int) -> str:
            return request.build_absolute_uri(
                replace_query_param(request.get_full_path(), "page", number)
            )

        return Response(
            {
                "page": page.number,
                "next": link(page.number + 1) if page.has_next else None,
                "previous": link(page.number - 1) if page.has_previous else None,
                "results": [{**asdict(g), "has_fix": g.has_fix} for g in page.groups],
            }
        )

    def _group_fingerprints(self, request: Request, data: dict[str, Any]) -> Any:
        where = self._where(request, data.get("where") or {})
        try:
            return group_fingerprints(
                team_of(request), rule_ids=data["rule_ids"], user=request.user, **where
            )
        except ValueError as exc:
            raise serializers.ValidationError({"rule_ids": [str(exc)]}) from None

    @extend_schema(
        operation_id="findings_groups_triage",
        summary="Triage whole groups: every finding of these rule ids matching `where`",
        request=GroupTriageSerializer,
        responses={200: TriageResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="groups/triage")
    def groups_triage(self, request: Request) -> Response:
        data = validated_body(GroupTriageSerializer, request)
        result = triage_apply(request, self._group_fingerprints(request, data), data)
        return Response({**_triaged(result), "not_found": []})

    @extend_schema(
        operation_id="findings_groups_assign",
        summary="Assign whole groups to a team member (who is e-mailed)",
        request=GroupAssignSerializer,
        responses={200: CountResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="groups/assign")
    def groups_assign(self, request: Request) -> Response:
        data = validated_body(GroupAssignSerializer, request)
        changed = assign_apply(request, data, lambda: self._group_fingerprints(request, data))
        return Response({"changed": changed, "not_found": []})


def _positive(raw: Any, name: str, default: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise serializers.ValidationError({name: ["Must be a positive integer."]}) from None
    if value < 1:
        raise serializers.ValidationError({name: ["Must be a positive integer."]})
    return value
