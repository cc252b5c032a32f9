"""Recurring django-q2 schedules the engine needs, created (idempotently) after `migrate`."""

from __future__ import annotations

from typing import Any

REAPER_NAME = "outpost: reap stale scan steps"
ACCEPTANCES_NAME = "outpost: reopen findings whose accepted risk expired"


def schedule_every_minute(*, name: str, func: str) -> None:
    """Create or refresh the recurring schedule `name` running the task `func` every minute."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=name,
        defaults={
            "func": func,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def ensure_schedules(**kwargs: Any) -> None:
    schedule_every_minute(name=REAPER_NAME, func="scans.tasks.reap")
    schedule_every_minute(name=ACCEPTANCES_NAME, func="scans.tasks.acceptances_expire")
