"""Serializer bases shared by every app's API."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
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
        wrong: dict[str, list[str]] = {}
        if type(data) is dict:  # a JSON body (forms arrive as a QueryDict, every value a string)
            fields = self.fields  # type: ignore[attr-defined]
            for name, value in data.items():
                expected = _json_type_error(fields[name], value) if value is not None else None
                if expected:
                    wrong[name] = [f"Must be {expected}."]
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            if wrong and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **wrong}) from None
            raise
        if wrong:
            raise serializers.ValidationError(wrong)
        return value


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    """What a JSON value should have been when its type is not the one the schema states; DRF
    itself coerces (`"comment": 0` became "0", `"authorize_targets": "yes"` became true)."""
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(field, serializers.ChoiceField):
        return None
    if isinstance(field, serializers.CharField):
        return None if isinstance(value, str) else "a string"
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if isinstance(field, serializers.FloatField):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "a number"
    return None


class StrictSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    pass


class DetailSerializer(serializers.Serializer):
    """The error shape of every endpoint."""

    detail = serializers.CharField()
    # A declared field, popped from the class by DRF's metaclass: it does not shadow .errors.
    errors = serializers.DictField(required=False)  # type: ignore[assignment]


def detail_responses(*codes: int) -> dict[int, type[DetailSerializer]]:
    """Schema responses answered with the `{"detail", "errors"}` shape, one per status code."""
    return dict.fromkeys(codes, DetailSerializer)


def validated_body(serializer_class: type[serializers.Serializer], request: Any) -> dict[str, Any]:
    """The request's body as `serializer_class` cleans it; a body it refuses is a 400 naming the
    fields (raised, so the API's error handler shapes it)."""
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def choice_param(params: Mapping[str, Any], name: str, choices: Iterable[str]) -> str | None:
    """A query parameter that, when given (not empty), must be one of `choices`: a 400 listing
    them otherwise."""
    value = params.get(name)
    allowed = list(choices)
    if value and value not in allowed:
        raise serializers.ValidationError({name: [f"One of {', '.join(allowed)}."]})
    return value or None


# A plain model attribute read through one of these field classes is converted by the function
# (what the class's own to_representation does for the values a model column holds).
_PLAIN_CONVERSIONS: dict[type[serializers.Field], Callable[[Any], Any]] = {
    serializers.CharField: str,
    serializers.IntegerField: int,
    serializers.FloatField: float,
    serializers.BooleanField: bool,
}


# Fields whose reading and writing depend only on the field and the row (not on the serializer
# instance they are bound to, nor its context): a plan made of these serves every instance.
_CONTEXT_FREE: frozenset[type[serializers.Field]] = frozenset(
    {
        *_PLAIN_CONVERSIONS, serializers.JSONField, serializers.DateTimeField,
        serializers.ChoiceField, serializers.ReadOnlyField, serializers.PrimaryKeyRelatedField,
        serializers.BigIntegerField,
    }
)  # fmt: skip
# name, model attribute (read directly) and its conversion, method (a SerializerMethodField's,
# called on the current serializer), field (asked as DRF would).
RowStep = tuple[str, str | None, Any, str | None, Any]
_ROW_PLANS: dict[type, list[RowStep]] = {}


class ListedRowsMixin:
    """A model serializer for long lists: each row is written with a plan instead of DRF's
    per-field attribute walk. A column read through CharField, IntegerField, FloatField,
    BooleanField or a text JSONField is read and converted directly, a method field calls its
    method, every other field (relations, dotted sources, dates, choices) is asked as DRF would.
    When every such field is of a kind that depends on nothing but the row, the plan is made once
    per serializer class, and a list no longer builds its serializer's fields on every request
    (the classes using this must not change their fields per request or context). A 50-finding
    page of the findings API spent ~40% of its CPU in the generic walk and the field building."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, Mapping):
            return super().to_representation(instance)  # type: ignore[misc,no-any-return]
        plan = _ROW_PLANS.get(type(self)) or self.__dict__.get("_row_plan")
        if plan is None:
            plan, shared = self._plan_rows()
            if shared:
                _ROW_PLANS[type(self)] = plan
            else:
                self.__dict__["_row_plan"] = plan
        row: dict[str, Any] = {}
        for name, attname, convert, method, field in plan:
            if attname is not None:
                value = getattr(instance, attname)
                row[name] = None if value is None else (convert(value) if convert else value)
            elif method is not None:
                row[name] = getattr(self, method)(instance)
            else:
                try:
                    value = field.get_attribute(instance)
                except SkipField:
                    continue
                empty = value.pk if isinstance(value, PKOnlyObject) else value
                row[name] = None if empty is None else field.to_representation(value)
        return row

    def _plan_rows(self) -> tuple[list[RowStep], bool]:
        model_fields = {f.name for f in self.Meta.model._meta.concrete_fields}  # type: ignore[attr-defined]
        plan: list[RowStep] = []
        shared = True
        field: Any
        for field in self._readable_fields:  # type: ignore[attr-defined]
            name, source, kind = field.field_name, field.source, type(field)
            plain = source in model_fields and source == name and "." not in source
            if plain and kind in _PLAIN_CONVERSIONS:
                plan.append((name, source, _PLAIN_CONVERSIONS[kind], None, None))
            elif plain and kind is serializers.JSONField and not field.binary:
                plan.append((name, source, None, None, None))
            elif kind is serializers.SerializerMethodField:
                plan.append((name, None, None, field.method_name, None))
            else:
                shared = shared and kind in _CONTEXT_FREE
                plan.append((name, None, None, None, field))
        return plan, shared


@extend_schema_field({"type": "boolean", "enum": [True]})
class ConsentField(serializers.BooleanField):
    """`authorize_targets`: the consent a scan needs. Only `true` is a valid request (false is a
    400 naming the field), and the schema says so."""


# A name as the services keep it: something besides spaces, no control characters (NUL, a
# newline). For a serializer's Meta.schema_extra: {"properties": {"name": NAME_SCHEMA}}.
NAME_SCHEMA = {"pattern": "^[^\\u0000-\\u001f\\u007f]*\\S[^\\u0000-\\u001f\\u007f]*$"}
