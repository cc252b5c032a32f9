"""django-q2 task entry points (ids in, never objects)."""

from __future__ import annotations

from integrations import findings_notify
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


def assignment_notify(
    team_id: int, fingerprints: list[str], assignee_id: int, user_id: int | None
) -> str:
    return findings_notify.assignment_notify(team_id, fingerprints, assignee_id, user_id)


def acceptance_request_notify(team_id: int, fingerprints: list[str], user_id: int | None) -> str:
    return findings_notify.acceptance_request_notify(team_id, fingerprints, user_id)


def acceptance_expiry_notify(
    team_id: int, fingerprints: list[str], user_ids: list[int] | None = None
) -> str:
    return findings_notify.acceptance_expiry_notify(team_id, fingerprints, user_ids)


def finding_notice_mail(recipients: list[str], payload: dict[str, object], attempt: int) -> str:
    return findings_notify.mail_send(recipients, dict(payload), attempt)
