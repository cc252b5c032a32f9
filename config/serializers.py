"""Serializer bases shared by every app's API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject


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


# A plain model attribute read through one of these field classes is converted by the function
# (what the class's own to_representation does for the values a model column holds).
_PLAIN_CONVERSIONS: dict[type[serializers.Field], Callable[[Any], Any]] = {
    serializers.CharField: str,
    serializers.IntegerField: int,
    serializers.FloatField: float,
    serializers.BooleanField: bool,
}


class ListedRowsMixin:
    """A model serializer for long lists: each row is written with a plan made once per
    serializer (the child of `many=True` serves every row) instead of DRF's per-field attribute
    walk. A column read through CharField, IntegerField, FloatField, BooleanField or a text
    JSONField is read and converted directly; every other field (methods, relations, dotted
    sources, dates) goes through the field itself, as DRF would. A 50-finding page of the
    findings API spent ~40% of its CPU in the generic walk."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, Mapping):
            return super().to_representation(instance)  # type: ignore[misc,no-any-return]
        plan = self.__dict__.get("_row_plan")
        if plan is None:
            plan = self.__dict__["_row_plan"] = self._plan_rows()
        row: dict[str, Any] = {}
        for name, attname, convert, field in plan:
            if attname is not None:
                value = getattr(instance, attname)
                row[name] = None if value is None else (convert(value) if convert else value)
                continue
            try:
                value = field.get_attribute(instance)
            except SkipField:
                continue
            empty = value.pk if isinstance(value, PKOnlyObject) else value
            row[name] = None if empty is None else field.to_representation(value)
        return row

    def _plan_rows(self) -> list[tuple[str, str | None, Any, serializers.Field]]:
        model_fields = {f.name for f in self.Meta.model._meta.concrete_fields}  # type: ignore[attr-defined]
        plan: list[tuple[str, str | None, Any, serializers.Field]] = []
        field: Any
        for field in self._readable_fields:  # type: ignore[attr-defined]
            name, source = field.field_name, field.source
            plain = source in model_fields and source == name and "." not in source
            if plain and type(field) in _PLAIN_CONVERSIONS:
                plan.append((name, source, _PLAIN_CONVERSIONS[type(field)], field))
            elif plain and type(field) is serializers.JSONField and not field.binary:
                plan.append((name, source, None, field))
            else:
                plan.append((name, None, None, field))
        return plan
