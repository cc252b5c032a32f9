"""How Outpost's authentication classes appear in the OpenAPI schema (drf-spectacular).

Without these, every endpoint warns "could not resolve authenticator" and Swagger UI offers no
way to send a key. Imported by AccountsConfig.ready() so the extensions register.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class _Scheme(OpenApiAuthenticationExtension):
    """An authentication class (`target_class`) as the security scheme `definition` says. This
    base names no class, so it matches none."""

    definition: dict[str, Any] = {}

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return dict(self.definition)


def _api_key(where: str, name: str, description: str) -> dict[str, Any]:
    """OpenAPI's scheme for a credential sent in a named header or cookie."""
    return {"type": "apiKey", "in": where, "name": name, "description": description}


class BearerScheme(_Scheme):
    target_class = "accounts.authentication.BearerAuthentication"
    name = "bearer"
    definition = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`opk_…`) or a JWT from `POST /api/v1/auth/token`.",
    }


class ApiKeyHeaderScheme(_Scheme):
    target_class = "accounts.authentication.ApiKeyHeaderAuthentication"
    name = "apiKeyHeader"
    definition = _api_key(
        "header", "X-API-Key", "Deprecated: answered with a `Deprecation` header; use Bearer."
    )


class SessionScheme(_Scheme):
    target_class = "accounts.authentication.TeamSessionAuthentication"
    name = "session"
    definition = _api_key(
        "cookie",
        "sessionid",
        "The browser session of the web pages (with a CSRF token for writes).",
    )
