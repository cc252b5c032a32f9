"""Targets API: CRUD, bulk import with a per-line report, and scope checks for CI and the builder."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.http import team_of, user_of
from accounts.models import Role
from config.api_errors import PayloadTooLarge, validation_response
from config.serializers import (
    DetailSerializer,
    StrictModelSerializer,
    StrictSerializer,
    detail_responses,
    validated_body,
)
from targets import services
from targets.bulk import MAX_BULK_LINES, MODES, BulkTooLarge
from targets.models import NOTE_MAX_LENGTH, Target, TargetKind
from targets.parsing import TargetParseError, detect_kind
from targets.scope import ScopeMatcher, Verdict

MAX_CHECK_ITEMS = 10_000
ITEM_KINDS = ("host", "service", "url", "image", "repo")
_SERVICE_RE = re.compile(r"(\[[^\]]+\]|[^:/\[\]]+):[0-9]{1,5}/[a-z]+")
_ITEM_KIND_OF_TARGET_KIND = {
    "domain": "host",
    "ip": "host",
    "url": "url",
    "image": "image",
    "repo": "repo",
}

# --- Serializers ---------------------------------------------------------------------------


class TargetSerializer(StrictModelSerializer):
    authorized_by = serializers.EmailField(
        source="authorized_by.email", read_only=True, allow_null=True
    )
    state = serializers.ChoiceField(
        choices=["active", "expiring", "expired", "excluded"],
        read_only=True,
        help_text="expiring: the authorization ends within 7 days",
    )

    class Meta:
        model = Target
        fields = [
            "id", "kind", "value", "raw_value", "excluded", "note", "authorized_by", "authorized_at",
            "expires_at", "state", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class TargetCreateSerializer(StrictSerializer):
    value = serializers.CharField(
        trim_whitespace=False,
        help_text="Domain (*.example.com for subdomains), IP, CIDR, http(s) URL, image reference or git URL",
    )
    kind = serializers.ChoiceField(
        choices=TargetKind.choices,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Detected from the value when omitted",
    )
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    excluded = serializers.BooleanField(required=False, default=False)


class TargetUpdateSerializer(StrictSerializer):
    value = serializers.CharField(required=False, trim_whitespace=False)
    kind = serializers.ChoiceField(choices=TargetKind.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX_LENGTH)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    excluded = serializers.BooleanField(required=False)


class BulkRowSerializer(StrictSerializer):
    value = serializers.CharField(allow_blank=True, trim_whitespace=False)
    kind = serializers.ChoiceField(
        choices=TargetKind.choices, required=False, allow_null=True, allow_blank=True
    )
    note = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False
    )
    expires_at = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="ISO 8601 time, or a date (through that day, UTC)",
    )
    excluded = serializers.BooleanField(required=False, default=False)


class BulkRequestSerializer(StrictSerializer):
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="One target per line; # comments; a leading ! excludes; CSV when it starts with a value,… header",
    )
    csv = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="CSV value,kind,note,expires_at[,excluded], header line optional",
    )
    rows = BulkRowSerializer(many=True, required=False)
    mode = serializers.ChoiceField(choices=MODES, default="all_or_nothing")
    commit = serializers.BooleanField(
        default=True, help_text="false: preview only, nothing is written"
    )

    class Meta:
        schema_extra = {"oneOf": [{"required": [name]} for name in ("text", "csv", "rows")]}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("text", "csv", "rows") if name in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give exactly one of text, csv or rows."]}
            )
        return attrs


class BulkLineSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    input = serializers.CharField()
    status = serializers.ChoiceField(choices=["added", "duplicate", "error"])
    kind = serializers.CharField()
    value = serializers.CharField()
    excluded = serializers.BooleanField()
    reason = serializers.CharField()
    target_id = serializers.IntegerField(allow_null=True)


class BulkCountsSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    error = serializers.IntegerField()
    total = serializers.IntegerField()


class BulkReportSerializer(serializers.Serializer):
    mode = serializers.CharField()
    committed = serializers.BooleanField()
    message = serializers.CharField()
    counts = BulkCountsSerializer()
    lines = BulkLineSerializer(many=True)


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "string",
                "description": "kind detected (host, service host:port/proto, url, image, repo)",
            },
            {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": list(ITEM_KINDS)},
                    "value": {"type": "string"},
                },
                "required": ["kind", "value"],
                "additionalProperties": False,
            },
        ]
    }
)
class CheckItemField(serializers.Field):
    """A string (kind detected) or {"kind", "value"}."""

    def to_internal_value(self, data: Any) -> tuple[str | None, str]:
        if isinstance(data, str):
            return None, data
        if isinstance(data, dict):
            unknown = sorted(set(data) - {"kind", "value"})
            if unknown:
                raise serializers.ValidationError(
                    f"Unknown field {unknown[0]!r} (an item is {{kind, value}})."
                )
            kind, value = data.get("kind"), data.get("value")
            if kind not in ITEM_KINDS or not isinstance(value, str):
                raise serializers.ValidationError(
                    f"kind must be one of {', '.join(ITEM_KINDS)} and value a string."
                )
            return kind, value
        raise serializers.ValidationError("An item is a string or {kind, value}.")

    def to_representation(self, value: Any) -> Any:
        return value


class CheckRequestSerializer(StrictSerializer):
    items = serializers.ListField(
        child=CheckItemField(), allow_empty=False, max_length=MAX_CHECK_ITEMS
    )


class CheckResultSerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()
    in_scope = serializers.BooleanField()
    reason = serializers.CharField(
        help_text="Which target or exclusion decided, or why nothing covers it"
    )
    target_id = serializers.IntegerField(allow_null=True)


class CheckResponseSerializer(serializers.Serializer):
    results = CheckResultSerializer(many=True)
    in_scope = serializers.IntegerField()
    out_of_scope = serializers.IntegerField()


ERRORS = detail_responses(400, 401, 403)


def _item_kind(value: str) -> str:
    """The item kind of a bare string (the check endpoint's shorthand)."""
    if _SERVICE_RE.fullmatch(value.strip()):
        return "service"
    kind = detect_kind(value)
    if kind == "cidr":
        raise TargetParseError(value, "a CIDR range is not an item; check one address")
    return _ITEM_KIND_OF_TARGET_KIND[kind]


# --- Views ---------------------------------------------------------------------------------


FILTER_PARAMETERS = [
    OpenApiParameter("kind", str, enum=TargetKind.values),
    OpenApiParameter("excluded", bool),
    OpenApiParameter("search", str, description="In value, typed value or note"),
]


@extend_schema(tags=["targets"])
@extend_schema_view(
    list=extend_schema(summary="List targets", parameters=FILTER_PARAMETERS),
    retrieve=extend_schema(
        summary="A target", responses={200: TargetSerializer, 404: DetailSerializer}
    ),
)
class TargetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The current team's authorized scope. Viewers read and check; analysts and owners write."""

    serializer_class = TargetSerializer
    action_roles = {"check": Role.VIEWER}

    def get_queryset(self) -> QuerySet[Target]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return Target.objects.none()
        params = self.request.query_params if self.action == "list" else {}
        kind = params.get("kind")
        if kind is not None and kind not in TargetKind.values:  # `kind=` too: not a kind
            raise serializers.ValidationError({"kind": [f"One of {', '.join(TargetKind.values)}."]})
        qs = services.targets_for(team_of(self.request), kind=kind, search=params.get("search"))
        excluded = (params.get("excluded") or "").lower()
        if excluded:
            if excluded not in ("true", "false", "1", "0"):
                raise serializers.ValidationError({"excluded": ["true or false."]})
            qs = qs.filter(excluded=excluded in ("true", "1"))
        return qs

    @extend_schema(
        summary="Authorize (or exclude) a target; duplicates are refused",
        request=TargetCreateSerializer,
        responses={201: TargetSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = validated_body(TargetCreateSerializer, request)
        try:
            target = services.target_create(
                team=team_of(request),
                user=user_of(request),
                value=data["value"], kind=data.get("kind") or None, note=data["note"],
                expires_at=data["expires_at"], excluded=data["excluded"],
            )  # fmt: skip
        except DjangoValidationError as exc:
            return validation_response(exc)
        return Response(TargetSerializer(target).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a target (only the fields given)",
        request=TargetUpdateSerializer,
        responses={200: TargetSerializer, **ERRORS, 404: DetailSerializer},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        target = self.get_object()
        data = validated_body(TargetUpdateSerializer, request)
        try:
            services.target_update(target=target, user=user_of(request), **data)
        except DjangoValidationError as exc:
            return validation_response(exc)
        return Response(TargetSerializer(target).data)

    @extend_schema(
        summary="Remove a target from the scope",
        responses={204: None, **ERRORS, 404: DetailSerializer},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.target_delete(target=self.get_object(), user=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary=f"Bulk import (at most {MAX_BULK_LINES:,} lines) with a per-line report",
        description=(
            "`commit: false` previews. `mode: all_or_nothing` imports nothing when a line has an "
            "error (answer 400 with the report); `valid_only` imports the valid lines. Duplicates "
            "are reported and skipped."
        ),
        request=BulkRequestSerializer,
        responses={
            200: BulkReportSerializer,
            201: BulkReportSerializer,
            **ERRORS,
            413: DetailSerializer,
        },
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        data = validated_body(BulkRequestSerializer, request)
        source = (
            {"text": data["text"]}
            if "text" in data
            else {"csv_text": data["csv"]}
            if "csv" in data
            else {"rows": data["rows"]}
        )
        try:
            report = services.targets_bulk_import(
                team=team_of(request),
                user=user_of(request),
                mode=data["mode"], commit=data["commit"], **source,
            )  # fmt: skip
        except BulkTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from None
        except DjangoValidationError as exc:
            return validation_response(exc)
        answer = report.to_dict()
        if data["commit"] and not report.committed:
            errors = {f"line {line.line}": [line.reason] for line in report.errors}
            return Response(
                {"detail": report.message, "errors": errors, **answer},
                status=status.HTTP_400_BAD_REQUEST,
            )
        created = report.committed and report.counts["added"] > 0
        return Response(answer, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Is each item in scope? (per-item verdict and reason)",
        description=(
            "Items are strings (kind detected: host, service `host:port/proto`, url, image, repo) "
            f"or `{{kind, value}}`; at most {MAX_CHECK_ITEMS:,} per request. Viewers may call it."
        ),
        request=CheckRequestSerializer,
        responses={200: CheckResponseSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"])
    def check(self, request: Request) -> Response:
        items = validated_body(CheckRequestSerializer, request)["items"]
        matcher = ScopeMatcher.for_team(team_of(request).pk)
        results = []
        for kind, value in items:
            try:
                kind = kind or _item_kind(value)
            except TargetParseError as exc:
                verdict = Verdict(False, str(exc), None)
                kind = "unknown"
            else:
                verdict = matcher.check_value(kind, value)
            results.append({"kind": kind, "value": value, **verdict_dict(verdict)})
        inside = sum(1 for r in results if r["in_scope"])
        return Response(
            {"results": results, "in_scope": inside, "out_of_scope": len(results) - inside}
        )


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    return {"in_scope": verdict.in_scope, "reason": verdict.reason, "target_id": verdict.target_id}


# --- Routes (mounted under /api/v1/ by config.urls) ------------------------------------------

router = SimpleRouter(trailing_slash=False)
router.register("targets", TargetViewSet, basename="target")

urlpatterns = [*router.urls]
