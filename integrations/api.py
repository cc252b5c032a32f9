"""Integrations API: CRUD (secrets write-only, shown masked), test message, delivery log,
notification rules, a scan's findings on demand (`scans/{id}/notify`, `actions/send-slack`), and
the `integrations/slack|discord` shorthands."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from accounts.http import team_of, user_of
from config.pagination import paginated_response
from config.serializers import (
    NAME_SCHEMA,
    StrictSerializer,
    choice_param,
    detail_responses,
    validated_body,
)
from integrations import notify, services
from integrations.models import (
    Delivery,
    Integration,
    IntegrationKind,
    NotificationRule,
    RuleEvent,
)
from integrations.schedules.api import ScheduleViewSet
from scans.engine.runtime import SEVERITIES
from scans.models import Scan

ERRORS = detail_responses(400, 401, 403, 404)
SEVERITY_CHOICES = list(SEVERITIES)


# --- Serializers -----------------------------------------------------------------------------


class IntegrationSerializer(serializers.ModelSerializer):
    destination = serializers.CharField(
        read_only=True,
        help_text="Masked webhook URL (scheme, host, last 4 characters) or the e-mail recipients",
    )
    recipients = serializers.ListField(child=serializers.EmailField(), read_only=True)
    has_signing_secret = serializers.SerializerMethodField()
    secret_readable = serializers.BooleanField(
        read_only=True,
        help_text="false: the stored secret cannot be decrypted with the current key; set it again",
    )
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)

    class Meta:
        model = Integration
        fields = [
            "id", "kind", "name", "is_enabled", "destination", "recipients", "has_signing_secret",
            "secret_readable", "created_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_has_signing_secret(self, obj: Integration) -> bool:
        return obj.kind == IntegrationKind.WEBHOOK


class IntegrationCreateSerializer(StrictSerializer):
    class Meta:
        schema_extra = {"properties": {"name": NAME_SCHEMA}}

    kind = serializers.ChoiceField(choices=IntegrationKind.choices)
    name = serializers.CharField(max_length=services.NAME_MAX)
    webhook_url = serializers.CharField(
        required=False, allow_blank=True, write_only=True, max_length=2000,
        help_text="slack, discord, webhook: the URL to post to. Stored encrypted, never shown again.",
    )  # fmt: skip
    signing_secret = serializers.CharField(
        required=False, allow_blank=True, write_only=True, max_length=services.SECRET_MAX,
        trim_whitespace=False,
        help_text=f"webhook: the HMAC-SHA256 key ({services.SECRET_MIN}+ characters). Stored encrypted.",
    )  # fmt: skip
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=254), required=False,
        max_length=services.MAX_RECIPIENTS, help_text="email: the addresses to write to",
    )  # fmt: skip
    is_enabled = serializers.BooleanField(default=True)


class IntegrationUpdateSerializer(StrictSerializer):
    class Meta:
        schema_extra = {"properties": {"name": NAME_SCHEMA}}

    name = serializers.CharField(max_length=services.NAME_MAX, required=False)
    webhook_url = serializers.CharField(
        required=False, allow_blank=True, write_only=True, max_length=2000,
        help_text="Replace the URL (empty or absent: keep it)",
    )  # fmt: skip
    signing_secret = serializers.CharField(
        required=False, allow_blank=True, write_only=True, max_length=services.SECRET_MAX,
        trim_whitespace=False, help_text="Replace the signing secret (empty or absent: keep it)",
    )  # fmt: skip
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=254), required=False,
        max_length=services.MAX_RECIPIENTS,
    )  # fmt: skip
    is_enabled = serializers.BooleanField(required=False)


class KindIntegrationCreateSerializer(StrictSerializer):
    class Meta:
        schema_extra = {"properties": {"name": NAME_SCHEMA}}

    name = serializers.CharField(max_length=services.NAME_MAX, required=False)
    webhook_url = serializers.CharField(write_only=True, max_length=2000)
    is_enabled = serializers.BooleanField(default=True)


class AttemptSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    response_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    duration_ms = serializers.FloatField()


class DeliverySerializer(serializers.ModelSerializer):
    integration: serializers.PrimaryKeyRelatedField[Integration] = (
        serializers.PrimaryKeyRelatedField(read_only=True)
    )
    scan: serializers.PrimaryKeyRelatedField[Scan] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    attempt_log = AttemptSerializer(many=True, read_only=True)
    requested_by = serializers.EmailField(source="requested_by.email", read_only=True, default=None)

    class Meta:
        model = Delivery
        fields = [
            "id", "integration", "scan", "event", "status", "summary", "attempts", "response_code",
            "error", "attempt_log", "requested_by", "created_at", "next_attempt_at", "delivered_at",
        ]  # fmt: skip
        read_only_fields = fields


class NotifySerializer(StrictSerializer):
    integration = serializers.IntegerField(min_value=1)
    min_severity = serializers.ChoiceField(choices=SEVERITY_CHOICES, default="info")
    only_new = serializers.BooleanField(
        default=False, help_text="Only findings the previous scan did not have"
    )


class SendSlackSerializer(StrictSerializer):
    scan_id = serializers.IntegerField(min_value=1)
    integration = serializers.IntegerField(
        min_value=1, required=False,
        help_text="A Slack integration id; may be left out when the team has exactly one",
    )  # fmt: skip
    min_severity = serializers.ChoiceField(choices=SEVERITY_CHOICES, default="info")
    only_new = serializers.BooleanField(default=False)


class RuleSerializer(serializers.ModelSerializer):
    integration: serializers.PrimaryKeyRelatedField[Integration] = (
        serializers.PrimaryKeyRelatedField(read_only=True)
    )
    integration_name = serializers.CharField(source="integration.name", read_only=True)

    class Meta:
        model = NotificationRule
        fields = [
            "id", "event", "min_severity", "days", "technology", "integration", "integration_name",
            "is_enabled", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class RuleCreateSerializer(StrictSerializer):
    event = serializers.ChoiceField(choices=RuleEvent.choices)
    integration = serializers.IntegerField(min_value=1)
    min_severity = serializers.ChoiceField(
        choices=SEVERITY_CHOICES, default="high",
        help_text="new_finding: new findings at or above this severity",
    )  # fmt: skip
    days = serializers.IntegerField(
        min_value=1, max_value=365, default=30,
        help_text="certificate_expiring: certificates that expire within this many days",
    )  # fmt: skip
    technology = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="technology_seen: technology names, comma-separated",
    )  # fmt: skip
    is_enabled = serializers.BooleanField(default=True)


class RuleUpdateSerializer(StrictSerializer):
    min_severity = serializers.ChoiceField(choices=SEVERITY_CHOICES, required=False)
    is_enabled = serializers.BooleanField(required=False)


# --- Views -------------------------------------------------------------------------------------


@extend_schema(tags=["integrations"])
@extend_schema_view(
    list=extend_schema(
        summary="List integrations",
        parameters=[OpenApiParameter("kind", str, enum=IntegrationKind.values)],
    ),
    retrieve=extend_schema(
        summary="An integration", responses={200: IntegrationSerializer, **ERRORS}
    ),
)
class IntegrationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Integration]
):
    """Slack, Discord, webhook and e-mail integrations of the current team. Viewers read
    (secrets are never returned, only masked); analysts and owners write."""

    serializer_class = IntegrationSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Integration]:
        params = self.request.query_params if self.action == "list" else {}
        kind = choice_param(params, "kind", IntegrationKind.values)
        return services.integrations_for(team_of(self.request), kind=kind)

    @extend_schema(
        summary="Add an integration",
        description="`webhook_url` for slack, discord and webhook; `signing_secret` for webhook; "
        "`recipients` for email. Secrets are stored encrypted and never returned.",
        request=IntegrationCreateSerializer,
        responses={201: IntegrationSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = validated_body(IntegrationCreateSerializer, request)
        integration = services.integration_create(
            team=team_of(request), user=user_of(request), **data
        )
        return Response(IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an integration (only the fields given; secrets are replaced, not shown)",
        request=IntegrationUpdateSerializer,
        responses={200: IntegrationSerializer, **ERRORS},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        integration = self.get_object()
        data = validated_body(IntegrationUpdateSerializer, request)
        services.integration_update(integration=integration, user=user_of(request), **data)
        return Response(IntegrationSerializer(integration).data)

    @extend_schema(summary="Delete an integration (its rules and delivery log go too)",
                   responses={204: None, **ERRORS})  # fmt: skip
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.integration_delete(integration=self.get_object(), user=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Send a test message (queued; see the delivery log)",
        request=None,
        responses={202: DeliverySerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        delivery = services.integration_test(integration=self.get_object(), user=user_of(request))
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="The integration's delivery log, newest first",
                   responses={200: DeliverySerializer(many=True), **ERRORS})  # fmt: skip
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        return paginated_response(
            self, services.deliveries_for(self.get_object()), DeliverySerializer
        )


@extend_schema(tags=["integrations"])
class KindIntegrationsView(APIView):
    """`/integrations/slack` and `/integrations/discord`: the team's integrations of that kind,
    and a shorthand to add one from a webhook URL."""

    kind = IntegrationKind.SLACK

    @extend_schema(
        summary="List integrations of this kind", responses={200: IntegrationSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        integrations = services.integrations_for(team_of(request), kind=self.kind)
        return Response(IntegrationSerializer(integrations, many=True).data)

    @extend_schema(
        summary="Add an integration of this kind from its webhook URL",
        request=KindIntegrationCreateSerializer,
        responses={201: IntegrationSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated_body(KindIntegrationCreateSerializer, request)
        integration = services.integration_create(
            team=team_of(request), user=user_of(request), kind=self.kind,
            name=data.get("name") or IntegrationKind(self.kind).label,
            webhook_url=data["webhook_url"], is_enabled=data["is_enabled"],
        )  # fmt: skip
        return Response(IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)


def _team_scan(request: Request, pk: int) -> Scan:
    return get_object_or_404(Scan.objects.select_related("team"), pk=pk, team=team_of(request))


def _notified(
    request: Request, scan: Scan, integration_id: int, data: dict[str, Any], kind: str | None = None
) -> Response:
    """Queue the scan's findings for the integration: the 202 with the delivery to watch."""
    delivery = notify.scan_notify(
        scan=scan, integration_id=integration_id, user=user_of(request),
        min_severity=data["min_severity"], only_new=data["only_new"], kind=kind,
    )  # fmt: skip
    return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["scans"])
class ScanNotifyView(APIView):
    """Send a scan's findings to one of the team's integrations now."""

    @extend_schema(
        summary="Send a scan's findings to an integration (queued; see its delivery log)",
        request=NotifySerializer,
        responses={202: DeliverySerializer, **ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        scan = _team_scan(request, pk)
        data = validated_body(NotifySerializer, request)
        return _notified(request, scan, data["integration"], data)


@extend_schema(tags=["scans"])
class SendSlackActionView(APIView):
    """`actions/send-slack {"scan_id", "integration"}`: the same as `scans/{id}/notify` for a
    Slack integration."""

    @extend_schema(
        summary="Send a scan's findings to a Slack integration",
        request=SendSlackSerializer,
        responses={202: DeliverySerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated_body(SendSlackSerializer, request)
        team = team_of(request)
        scan = _team_scan(request, data["scan_id"])
        integration_id = data.get("integration")
        if integration_id is None:
            candidates = list(
                services.integrations_for(team, kind=IntegrationKind.SLACK)
                .filter(is_enabled=True)
                .values_list("pk", flat=True)
            )
            if len(candidates) != 1:
                raise serializers.ValidationError(
                    {"integration": ["Name the Slack integration (the team has none or several)."]}
                )
            integration_id = candidates[0]
        return _notified(request, scan, integration_id, data, kind=IntegrationKind.SLACK)


@extend_schema(tags=["integrations"])
@extend_schema_view(
    list=extend_schema(summary="List notification rules"),
    retrieve=extend_schema(
        summary="A notification rule", responses={200: RuleSerializer, **ERRORS}
    ),
)
class NotificationRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[NotificationRule]
):
    """When to send: on scan completed, scan failed, new findings at or above a severity, and on
    the inventory: a new service or subdomain, a certificate expiring within N days, a named
    technology appearing."""

    serializer_class = RuleSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[NotificationRule]:
        return services.rules_for(team_of(self.request))

    @extend_schema(summary="Add a rule (one per event and integration)",
                   request=RuleCreateSerializer, responses={201: RuleSerializer, **ERRORS})  # fmt: skip
    def create(self, request: Request) -> Response:
        data = validated_body(RuleCreateSerializer, request)
        rule = services.rule_create(
            team=team_of(request), user=user_of(request), event=data["event"],
            integration_id=data["integration"], min_severity=data["min_severity"],
            is_enabled=data["is_enabled"], days=data["days"], technology=data["technology"],
        )  # fmt: skip
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a rule's severity or switch it on/off",
                   request=RuleUpdateSerializer, responses={200: RuleSerializer, **ERRORS})  # fmt: skip
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        data = validated_body(RuleUpdateSerializer, request)
        services.rule_update(rule=rule, user=user_of(request), **data)
        return Response(RuleSerializer(rule).data)

    @extend_schema(summary="Delete a rule", responses={204: None, **ERRORS})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.rule_delete(rule=self.get_object(), user=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Routes (mounted under /api/v1/ by config.urls) ------------------------------------------

router = SimpleRouter(trailing_slash=False)
router.register("integrations", IntegrationViewSet, basename="integration")
router.register("notification-rules", NotificationRuleViewSet, basename="notification-rule")
router.register("schedules", ScheduleViewSet, basename="schedule")

urlpatterns = [
    path(
        "integrations/slack",
        KindIntegrationsView.as_view(kind=IntegrationKind.SLACK),
        name="integrations-slack",
    ),
    path(
        "integrations/discord",
        KindIntegrationsView.as_view(kind=IntegrationKind.DISCORD),
        name="integrations-discord",
    ),
    path("scans/<int:pk>/notify", ScanNotifyView.as_view(), name="scan-notify"),
    path("actions/send-slack", SendSlackActionView.as_view(), name="action-send-slack"),
    *router.urls,
]
