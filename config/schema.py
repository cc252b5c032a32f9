"""OpenAPI generation hooks (drf-spectacular settings point here)."""

from __future__ import annotations

from typing import Any

from drf_spectacular import plumbing
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from config.serializers import DetailSerializer, RejectUnknownFieldsMixin


def build_mock_request(
    method: str, path: str, view: Any, original_request: Any, **kwargs: Any
) -> Any:
    """The fake request drf-spectacular hands each view while it derives the schema.

    Every Outpost queryset is scoped by `request.team` (set by middleware or the API auth
    classes, which schema generation never runs). Without a team the view's `get_queryset()`
    raises and drf-spectacular can no longer type the `{id}` path parameter; with `team=None`
    the queryset is merely empty, and its model tells the type."""
    request = plumbing.build_mock_request(method, path, view, original_request, **kwargs)
    for name in ("team", "membership", "role", "credential"):
        setattr(request._request, name, None)
    return request


class OutpostAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, saying what every Outpost endpoint does beyond its
    serializers, so the schema and the behaviour agree (a schemathesis run checks it):

    - a strict request body (`RejectUnknownFieldsMixin`: unknown fields are a 400) says
      `additionalProperties: false`, and a PATCH body is the view's update serializer as it is
      validated (not every field made optional);
    - rules between a body's fields (`Meta.schema_extra`: oneOf, anyOf, not) are stated;
    - the errors the shared layers answer for any endpoint are documented on every operation
      (`config.api_errors`, one `{"detail", "errors"}` shape): 400 bad input, a bad filter or page
      size; 401 without credentials (authenticated endpoints); 403 the role; 404 another team's
      or a missing object, or a page past the end; 413 a body over API_MAX_BODY_BYTES."""

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> Any:
        schema = super()._map_basic_serializer(serializer, direction)
        # Fields present only in some answers (Meta.schema_optional) are not required.
        optional = getattr(getattr(serializer, "Meta", None), "schema_optional", ())
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
        if direction == "request" and isinstance(serializer, RejectUnknownFieldsMixin):
            schema["additionalProperties"] = False
        # Rules between fields that the serializer's validate() applies (one of text, csv or
        # rows; a name unless a template), stated in JSON Schema (Meta.schema_extra).
        if direction == "request":
            for key, value in getattr(
                getattr(serializer, "Meta", None), "schema_extra", {}
            ).items():
                if key == "properties":  # a field's constraint beside what its type says
                    for name, constraint in value.items():
                        schema["properties"][name] = {**schema["properties"][name], **constraint}
                else:
                    schema[key] = value
        return schema

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # DRF refuses an empty list unless allow_empty; drf-spectacular does not say so.
        is_list = isinstance(field, (serializers.ListField, serializers.ListSerializer))
        if is_list and not getattr(field, "allow_empty", True) and isinstance(schema, dict):
            schema.setdefault("minItems", 1)
        return schema

    def _get_request_for_media_type(self, serializer: Any, direction: Any = "request") -> Any:
        # Every Outpost PATCH validates its own update serializer whole (`X(data=...)`), whose
        # optional fields say what may be left out. drf-spectacular makes every field of a PATCH
        # body optional ("Patched…"), so a body without the `revision` or `role` the view
        # requires looked valid.
        if self.method != "PATCH":
            return super()._get_request_for_media_type(serializer, direction)
        self.method = "PUT"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = "PATCH"

    def _get_request_body(self, direction: Any = "request") -> Any:
        body = super()._get_request_body(direction)
        if not body:
            return body
        # A body whose fields are each optional but one of which must be given (schema_extra's
        # oneOf/anyOf) cannot be left out either.
        extra = getattr(getattr(self.get_request_serializer(), "Meta", None), "schema_extra", {})
        if extra.keys() & {"oneOf", "anyOf"}:
            body["required"] = True
        return body

    def _is_list_view(self, serializer: Any = None) -> bool:
        # A `list` that answers one page object of its own (the inventory's keyset pages) says so
        # with `list_answers_a_page = True`; drf-spectacular would otherwise wrap it in an array.
        if getattr(self.view, "list_answers_a_page", False) and self.method == "GET":
            return False
        return bool(super()._is_list_view(serializer))

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        codes = ["400", "404"]
        if not self._allows_anonymous():
            codes += ["401", "403"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("413")
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    DetailSerializer, code, direction=direction
                )
        return responses

    def _allows_anonymous(self) -> bool:
        return any(isinstance(permission, AllowAny) for permission in self.view.get_permissions())
