"""`UNSET`: the default of a service's "change only what is given" arguments, because None is a
value a field may be given (no expiry, no cron expression)."""

from __future__ import annotations

from typing import Any


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
