"""DRF authentication: `Authorization: Bearer <API key or JWT>`, the deprecated `X-API-Key`,
and the browser session (for HTMX pages calling the API)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request

from accounts.services import (
    ApiCredential,
    AuthenticationFailed,
    api_key_authenticate,
    api_keys_with_member_role,
    credential_for_key,
)
from accounts.tokens import API_KEY_PREFIX, JwtError, jwt_decode


def _attach(request: Request, credential: ApiCredential) -> tuple[Any, ApiCredential]:
    # Views, permissions and the audit middleware read these from the Django request.
    django_request = request._request
    django_request.team = credential.team  # type: ignore[attr-defined]
    django_request.role = credential.role  # type: ignore[attr-defined]
    django_request.credential = credential  # type: ignore[attr-defined]
    return credential.user, credential


class BearerAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiCredential] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed("Empty Bearer token.")
        try:
            if token.startswith(API_KEY_PREFIX):
                return _attach(request, api_key_authenticate(token))
            return _attach(request, self._from_jwt(token))
        except AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc

    def _from_jwt(self, token: str) -> ApiCredential:
        try:
            claims = jwt_decode(token)
        except JwtError as exc:
            raise AuthenticationFailed(str(exc)) from exc
        api_key = api_keys_with_member_role().filter(pk=claims.api_key_id).first()
        if (
            api_key is None
            or api_key.user_id != claims.user_id
            or api_key.team_id != claims.team_id
        ):
            raise AuthenticationFailed("Token does not match an API key.")
        # A JWT dies with the key it was made from (revocation, reset).
        return credential_for_key(api_key, via="jwt")

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyHeaderAuthentication(BaseAuthentication):
    """`X-API-Key: <key>`: still accepted, answered with a `Deprecation` header."""

    def authenticate(self, request: Request) -> tuple[Any, ApiCredential] | None:
        raw = request.META.get("HTTP_X_API_KEY", "").strip()
        if not raw:
            return None
        request._request.api_key_header_used = True  # type: ignore[attr-defined]
        try:
            return _attach(request, api_key_authenticate(raw))
        except AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc


class TeamSessionAuthentication(SessionAuthentication):
    """The browser session; the team is the one chosen in the page (TeamMiddleware)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        django_request = request._request
        if getattr(django_request, "team", None) is None:
            return None
        return result
