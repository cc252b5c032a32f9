"""Recurring django-q2 schedules the engine needs, created (idempotently) after `migrate`."""

from __future__ import annotations

from typing import Any

REAPER_NAME = "outpost: reap stale scan steps"


def ensure_schedules(**kwargs: Any) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=REAPER_NAME,
        defaults={
            "func": "scans.tasks.reap",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
