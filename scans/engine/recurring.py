"""Recurring django-q2 schedules the engine needs, created (idempotently) after `migrate`."""

from __future__ import annotations

from typing import Any

REAPER_NAME = "outpost: reap stale scan steps"
ACCEPTANCES_NAME = "outpost: reopen findings whose accepted risk expired"
RETENTION_NAME = "outpost: delete raw outputs past their retention"


def schedule_every_minute(*, name: str, func: str, minutes: int = 1) -> None:
    """Create or refresh the recurring schedule `name` running the task `func` every minute
    (or every `minutes`)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=name,
        defaults={
            "func": func,
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        },
    )


def ensure_schedules(**kwargs: Any) -> None:
    schedule_every_minute(name=REAPER_NAME, func="scans.tasks.reap")
    schedule_every_minute(name=ACCEPTANCES_NAME, func="scans.tasks.acceptances_expire")
    schedule_every_minute(name=RETENTION_NAME, func="scans.tasks.artifacts_expire", minutes=60)
