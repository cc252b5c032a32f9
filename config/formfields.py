"""Form fields shared by the apps' filter forms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms


class UtcDateTimeField(forms.DateTimeField):
    """A date-time in UTC. Django's own field keeps the offset it was given, and PostgreSQL
    refuses offsets past ±15:59 that ISO 8601 and the schema allow (`…-22:03` was a 500)."""

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("Out of the range of dates.", code="invalid") from None
