"""django-q2 task entry points (ids in, never objects)."""

from __future__ import annotations


def delivery_send(delivery_id: int) -> str:
    from integrations.delivery import delivery_send as send

    return send(delivery_id)


def rules_evaluate(scan_id: int) -> str:
    from integrations.notify import rules_evaluate as evaluate

    return evaluate(scan_id)


def schedule_fire(schedule_id: int) -> str:
    from integrations.schedules.services import schedule_fire as fire

    return fire(schedule_id)


def deliveries_resume_lost() -> str:
    from integrations.delivery import deliveries_resume_lost as resume

    return f"resumed={resume()}"
