"""django-q2 task entry points (ids in, never objects)."""

from __future__ import annotations

from integrations.delivery import deliveries_resume_lost as resume
from integrations.delivery import delivery_send as send
from integrations.notify import rules_evaluate as evaluate
from integrations.schedules.services import schedule_fire as fire


def delivery_send(delivery_id: int) -> str:

    return send(delivery_id)


def rules_evaluate(scan_id: int) -> str:

    return evaluate(scan_id)


def schedule_fire(schedule_id: int) -> str:

    return fire(schedule_id)


def deliveries_resume_lost() -> str:

    return f"resumed={resume()}"
