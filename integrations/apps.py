from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _drop_q_schedule(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A ScanSchedule deleted any way (its workflow or team deleted too) takes its django-q2
    Schedule with it, so nothing fires for a schedule that no longer exists."""
    from django_q.models import Schedule

    if instance.q_schedule_id:
        Schedule.objects.filter(pk=instance.q_schedule_id).delete()


RESUME_LOST_NAME = "outpost: resume lost deliveries"


def _ensure_schedules(**kwargs: Any) -> None:
    """The recurring sweep of lost deliveries (integrations.delivery.deliveries_resume_lost),
    created idempotently after `migrate`, like the scan reaper."""
    from scans.engine.recurring import schedule_every_minute

    schedule_every_minute(name=RESUME_LOST_NAME, func="integrations.tasks.deliveries_resume_lost")


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations, notification rules and schedules"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate

        from integrations import (
            checks,  # noqa: F401  (registers the key check)
            findings_notify,
        )
        from integrations.models import ScanSchedule
        from integrations.notify import on_scan_finished
        from scans.signals import (
            acceptance_requested,
            acceptances_expired,
            findings_assigned,
            scan_finished,
        )

        scan_finished.connect(on_scan_finished, dispatch_uid="integrations.on_scan_finished")
        findings_assigned.connect(
            findings_notify.on_findings_assigned, dispatch_uid="integrations.findings_assigned"
        )
        acceptance_requested.connect(
            findings_notify.on_acceptance_requested,
            dispatch_uid="integrations.acceptance_requested",
        )
        acceptances_expired.connect(
            findings_notify.on_acceptances_expired, dispatch_uid="integrations.acceptances_expired"
        )
        post_delete.connect(
            _drop_q_schedule, sender=ScanSchedule, dispatch_uid="integrations.drop_q_schedule"
        )
        post_migrate.connect(_ensure_schedules, sender=self)
