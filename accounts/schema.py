"""How Outpost's authentication classes appear in the OpenAPI schema (drf-spectacular).

Without these, every endpoint warns "could not resolve authenticator" and Swagger UI offers no
way to send a key. Imported by AccountsConfig.ready() so the extensions register.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`opk_…`) or a JWT from `POST /api/v1/auth/token`.",
        }


class ApiKeyHeaderScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyHeaderAuthentication"
    name = "apiKeyHeader"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "Deprecated: answered with a `Deprecation` header; use Bearer.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.TeamSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "The browser session of the web pages (with a CSRF token for writes).",
        }
