"""Accounts API: registration, key reset, JWT, API keys, team members, the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import AuthenticationFailed as DRFAuthenticationFailed
from rest_framework.exceptions import PermissionDenied as DRFPermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from accounts import invitations, registration, services
from accounts.http import role_of, team_of, user_of
from accounts.models import ApiKey, AuditEvent, Invitation, Membership, Role
from accounts.ratelimits import rate_limit_wait
from accounts.serializers import (
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuditEventSerializer,
    EmailSerializer,
    InvitationSerializer,
    IssuedApiKeySerializer,
    MemberInviteSerializer,
    MemberRoleSerializer,
    MembershipSerializer,
    MeSerializer,
    ResetConfirmSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from accounts.sla import TeamSlaView
from accounts.tokens import jwt_issue
from config.api_errors import validation_response
from config.filtering import filtered_by
from config.serializers import DetailSerializer, detail_responses, validated_body


def _too_many(wait: int) -> Response:
    return Response(
        {"detail": f"Too many attempts; retry in {wait} s."},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(wait)},
    )


def _rate_limited(request: Request, scope: str) -> Response | None:
    """The 429 when this client (and the e-mail the body names) used up `scope`'s attempts."""
    email = request.data.get("email") if isinstance(request.data, dict) else None
    wait = rate_limit_wait(request._request, scope, account=str(email or ""))
    return _too_many(wait) if wait else None


def _team_dict(team: Any) -> dict[str, Any]:
    return {"id": team.pk, "name": team.name, "is_personal": team.is_personal}


ERRORS = detail_responses(400, 401, 403, 429)


# --- Unauthenticated endpoints (the CI path) -----------------------------------------------


# The endpoints a client calls before it holds a credential. (Comments, not docstrings, on these
# bases: drf-spectacular would show a docstring as every subclass's description.)
class _AnonymousView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


# Register and reset-request: an e-mail in, a token e-mailed by a worker, and the same 202
# whether or not an account uses the address (the answer must not tell who is registered).
class _EmailedTokenView(_AnonymousView):
    rate_scope = ""
    answer = ""
    # The service that e-mails the token (keyword `email`), set by each endpoint.
    send_token: Callable[..., Any]

    def post(self, request: Request) -> Response:
        refused = _rate_limited(request, self.rate_scope)
        if refused:
            return refused
        self.send_token(email=validated_body(EmailSerializer, request)["email"])
        return Response({"detail": self.answer}, status=status.HTTP_202_ACCEPTED)


EMAILED = detail_responses(202, 400, 429)


@extend_schema_view(
    post=extend_schema(
        summary="Register an e-mail: a worker creates the account and its personal team and "
        "e-mails a token for its first API key (same answer whether or not the account exists)",
        request=EmailSerializer,
        responses=EMAILED,
        tags=["auth"],
    )
)
class RegisterView(_EmailedTokenView):
    rate_scope = "register"
    answer = (
        "If this e-mail can be registered, a token for its first API key has been sent to it; "
        "exchange it at /api/v1/auth/reset-confirm within 15 minutes."
    )
    send_token = staticmethod(registration.account_register_request)


@extend_schema_view(
    post=extend_schema(
        summary="E-mail a one-time key reset token (same answer whether or not the account exists)",
        request=EmailSerializer,
        responses=EMAILED,
        tags=["auth"],
    )
)
class ResetRequestView(_EmailedTokenView):
    rate_scope = "reset"
    answer = "If an account uses this e-mail, a reset token valid 15 minutes has been sent to it."
    send_token = staticmethod(services.key_reset_request)


class ResetConfirmView(_AnonymousView):
    @extend_schema(
        summary="Exchange a reset token for a new API key; all previous keys are revoked",
        request=ResetConfirmSerializer,
        responses={
            200: inline_serializer("ResetConfirmed", {"api_key": IssuedApiKeySerializer()}),
            **ERRORS,
        },
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        refused = _rate_limited(request, "reset")
        if refused:
            return refused
        try:
            issued = services.key_reset_confirm(**validated_body(ResetConfirmSerializer, request))
        except services.AuthenticationFailed as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "api_key": IssuedApiKeySerializer(
                    issued.api_key, context={"raw_key": issued.raw_key}
                ).data
            }
        )


class TokenView(_AnonymousView):
    @extend_schema(
        summary="Exchange an API key for a short-lived JWT (HS256)",
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, **ERRORS},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        wait = rate_limit_wait(request._request, "token")
        if wait:
            return _too_many(wait)
        api_key = validated_body(TokenRequestSerializer, request)["api_key"]
        try:
            credential = services.api_key_authenticate(api_key)
        except services.AuthenticationFailed as exc:
            raise DRFAuthenticationFailed(str(exc)) from exc
        token, lifetime = jwt_issue(
            user_id=credential.user.pk, team_id=credential.team.pk, api_key_id=credential.api_key.pk
        )
        return Response({"access_token": token, "token_type": "Bearer", "expires_in": lifetime})

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


# --- Authenticated endpoints ---------------------------------------------------------------


class MeView(APIView):
    @extend_schema(
        summary="Who this credential acts as",
        responses={200: MeSerializer, **ERRORS},
        tags=["auth"],
    )
    def get(self, request: Request) -> Response:
        credential = getattr(request._request, "credential", None)
        user = user_of(request)
        return Response(
            {
                "user": {"id": user.pk, "email": user.email},
                "team": _team_dict(team_of(request)),
                "role": role_of(request),
                "auth": credential.via if credential else "session",
            }
        )


@extend_schema(tags=["auth"])
class ApiKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """API keys of the current team: your own (owners see all). DELETE revokes."""

    serializer_class = ApiKeySerializer
    required_role = Role.VIEWER  # anyone can hold keys, capped at their own role

    def get_queryset(self) -> QuerySet[ApiKey]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request team
            return ApiKey.objects.none()
        qs = ApiKey.objects.filter(team=team_of(self.request)).select_related("user")
        if role_of(self.request) != Role.OWNER:
            qs = qs.filter(user=user_of(self.request))
        return qs.order_by("-created_at")

    @extend_schema(
        summary="Create an API key (the full key is in the response, once)",
        request=ApiKeyCreateSerializer,
        responses={201: IssuedApiKeySerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = validated_body(ApiKeyCreateSerializer, request)
        try:
            issued = services.api_key_create(
                team=team_of(request), user=user_of(request), acting_role=role_of(request), **data
            )
        except DjangoValidationError as exc:
            return validation_response(exc)
        data = IssuedApiKeySerializer(issued.api_key, context={"raw_key": issued.raw_key}).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke an API key",
        responses={200: ApiKeySerializer, **ERRORS, 404: DetailSerializer},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_key = self.get_object()
        try:
            services.api_key_revoke(api_key=api_key, actor=user_of(request))
        except PermissionError as exc:
            raise DRFPermissionDenied(str(exc)) from exc
        return Response(ApiKeySerializer(api_key).data)


@extend_schema(tags=["teams"])
class MemberViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of the current team. Owners invite by e-mail, change roles, remove members."""

    serializer_class = MembershipSerializer
    action_roles = {"create": Role.OWNER, "partial_update": Role.OWNER, "destroy": Role.OWNER}

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return Membership.objects.filter(team=team_of(self.request)).select_related("user", "team")

    @extend_schema(
        summary="Invite an e-mail address (same answer whether or not an account uses it); "
        "they join when they accept the e-mailed link",
        request=MemberInviteSerializer,
        responses={202: InvitationSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = validated_body(MemberInviteSerializer, request)
        try:
            invitation = invitations.team_member_invite(
                team=team_of(request), inviter=user_of(request), request=request._request, **data
            )
        except DjangoValidationError as exc:
            return validation_response(exc)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Change a member's role",
        request=MemberRoleSerializer,
        responses={200: MembershipSerializer, **ERRORS},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        role = validated_body(MemberRoleSerializer, request)["role"]
        try:
            services.team_member_set_role(membership=membership, actor=user_of(request), role=role)
        except DjangoValidationError as exc:
            return validation_response(exc)
        return Response(MembershipSerializer(membership).data)

    @extend_schema(
        summary="Remove a member (their keys in this team are revoked)",
        responses={204: None, **ERRORS},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        try:
            services.team_member_remove(membership=membership, actor=user_of(request))
        except DjangoValidationError as exc:
            return validation_response(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["teams"])
@extend_schema_view(list=extend_schema(summary="Pending invitations of the current team"))
class InvitationViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The current team's pending invitations (owners): list them, withdraw one."""

    serializer_class = InvitationSerializer
    required_role = Role.OWNER

    def get_queryset(self) -> QuerySet[Invitation]:
        if getattr(self, "swagger_fake_view", False):
            return Invitation.objects.none()
        return invitations.invitations_pending(team_of(self.request)).order_by("-created_at")

    @extend_schema(
        summary="Withdraw an invitation (its link stops working)", responses={204: None, **ERRORS}
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        invitations.invitation_withdraw(invitation=self.get_object(), actor=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["teams"])
class TeamListView(APIView):
    @extend_schema(
        summary="Teams the user belongs to, with their role",
        responses={200: MembershipSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(MembershipSerializer(services.teams_for(user_of(request)), many=True).data)


@extend_schema(
    tags=["audit"],
    parameters=[
        OpenApiParameter("action", str),
        OpenApiParameter("outcome", str, enum=AuditEvent.Outcome.values),
        OpenApiParameter("request_id", str),
        OpenApiParameter("user", str, description="e-mail"),
        OpenApiParameter("status", int),
        OpenApiParameter("since", OpenApiTypes.DATETIME, description="ISO 8601"),
        OpenApiParameter("until", OpenApiTypes.DATETIME, description="ISO 8601"),
    ],
)
class AuditViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The team's audit log (owners only), newest first."""

    serializer_class = AuditEventSerializer
    required_role = Role.OWNER

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        params = self.request.query_params
        qs = filtered_by(
            AuditEvent.objects.filter(team=team_of(self.request)),
            params,
            {
                "action": "action",
                "outcome": "outcome",
                "request_id": "request_id",
                "user": "user_email",
            },
        )
        if params.get("status"):
            try:
                qs = qs.filter(status_code=int(params["status"]))
            except ValueError:
                raise serializers.ValidationError({"status": ["Must be an integer."]}) from None
        for param, lookup in (("since", "created_at__gte"), ("until", "created_at__lt")):
            if params.get(param):
                field = serializers.DateTimeField()
                try:
                    qs = qs.filter(**{lookup: field.to_internal_value(params[param])})
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({param: exc.detail}) from None
        return qs.order_by("-created_at", "-pk")


# --- Routes (mounted under /api/v1/ by config.urls) ------------------------------------------

router = SimpleRouter(trailing_slash=False)
router.register("auth/api-keys", ApiKeyViewSet, basename="api-key")
router.register("teams/members", MemberViewSet, basename="member")
router.register("teams/invitations", InvitationViewSet, basename="invitation")
router.register("audit", AuditViewSet, basename="audit")

urlpatterns = [
    path("auth/register", RegisterView.as_view(), name="auth-register"),
    path("auth/reset-request", ResetRequestView.as_view(), name="auth-reset-request"),
    path("auth/reset-confirm", ResetConfirmView.as_view(), name="auth-reset-confirm"),
    path("auth/token", TokenView.as_view(), name="auth-token"),
    path("auth/me", MeView.as_view(), name="auth-me"),
    path("teams", TeamListView.as_view(), name="teams"),
    path("teams/sla", TeamSlaView.as_view(), name="team-sla"),
    *router.urls,
]
