"""Filtering a queryset by the values a list's filters were given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

_M = TypeVar("_M", bound=Model)


def filtered_by(
    qs: QuerySet[_M], values: Mapping[str, Any], lookups: Mapping[str, str]
) -> QuerySet[_M]:
    """`qs` narrowed by each of `values` that is given (an empty value filters nothing):
    `lookups` maps a value's name to the field lookup it must equal."""
    for name, lookup in lookups.items():
        if values.get(name):
            qs = qs.filter(**{lookup: values[name]})
    return qs
