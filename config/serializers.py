"""Serializer bases shared by every app's API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class RejectUnknownFieldsMixin:
    """A field the endpoint does not know is a client bug (a typo, an old client): say so with
    400 instead of silently ignoring it."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(self.fields)  # type: ignore[attr-defined]
            unknown = sorted(str(k) for k in data if k not in known)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    pass


class DetailSerializer(serializers.Serializer):
    """The error shape of every endpoint."""

    detail = serializers.CharField()
    # A declared field, popped from the class by DRF's metaclass: it does not shadow .errors.
    errors = serializers.DictField(required=False)  # type: ignore[assignment]
