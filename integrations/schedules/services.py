"""Scheduled scans: a workflow on targets by cron expression (UTC) or every N hours.

Each ScanSchedule owns one django-q2 Schedule row calling `integrations.tasks.schedule_fire`.
Pausing sets that row's `repeats` to 0 (the scheduler skips it); resuming computes the next run
from now, so a paused week does not fire seven times. After downtime the cluster's `catch_up=False`
fires a missed schedule once, not once per missed period.

A run starts the scan with `scans.services.scan_start` as the person who created (and consented
for) the schedule. When it cannot — a target expired or was excluded, the creator lost the
analyst role, the previous run is still going — nothing is scanned; the schedule records the
reason (shown in red on the page and the API), the audit log has it, and the team's scan-failed
notification rules hear about it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from croniter import croniter
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, Membership, Role, Team, User, role_at_least
from config.unset import UNSET
from integrations.models import ScanSchedule
from integrations.notify import schedule_failure_notify
from scans.services import ScanRefused, scan_scope_check, scan_start
from targets.models import Target
from workflows.models import Workflow

log = structlog.get_logger(__name__)

MAX_EVERY_HOURS = 504  # three weeks (django-q2 keeps minutes in a small integer)
NAME_MAX = 120


def schedules_for(team: Team) -> QuerySet[ScanSchedule]:
    return (
        ScanSchedule.objects.filter(team=team)
        .select_related("workflow", "q_schedule", "last_scan", "created_by", "consented_by")
        .prefetch_related("targets")
        .order_by("name", "pk")
    )


def cron_problem(expression: str) -> str:
    """Why `expression` is not a five-field cron expression, or ""."""
    if len(expression.split()) != 5:
        return "a cron expression has five fields: minute hour day-of-month month day-of-week"
    if not croniter.is_valid(expression):
        return "not a valid cron expression"
    return ""


def _clean_cadence(cron: Any, every_hours: Any) -> tuple[str, int | None]:
    cron = (cron or "").strip() if isinstance(cron, str) or cron is None else cron
    if not isinstance(cron, str):
        raise ValidationError({"cron": ["Text, e.g. 0 3 * * 1 (Mondays at 03:00 UTC)."]})
    if every_hours in ("", None):
        every_hours = None
    if bool(cron) == (every_hours is not None):
        raise ValidationError({"cron": ["Give either a cron expression or every_hours, not both."]})
    if cron:
        problem = cron_problem(cron)
        if problem:
            raise ValidationError({"cron": [problem]})
        return " ".join(cron.split()), None
    try:
        hours = int(every_hours)
    except (TypeError, ValueError):
        raise ValidationError({"every_hours": ["A whole number of hours."]}) from None
    if isinstance(every_hours, bool) or not (1 <= hours <= MAX_EVERY_HOURS):
        raise ValidationError({"every_hours": [f"From 1 to {MAX_EVERY_HOURS} hours."]})
    return "", hours


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
        raise ValidationError({"name": [f"A name of 1 to {NAME_MAX} characters."]})
    return name.strip()


def _team_workflow(team: Team, workflow_id: Any) -> Any:

    workflow = Workflow.objects.filter(team=team, pk=workflow_id).first()
    if workflow is None:
        raise ValidationError({"workflow": ["Unknown workflow."]})
    return workflow


def _team_targets(team: Team, target_ids: Any) -> list[Any]:
    """The targets, which must be the team's and in scope now (a schedule that could not run
    today is refused at once rather than failing at its first run)."""

    try:
        ids = sorted({int(i) for i in target_ids or []})
    except (TypeError, ValueError):
        raise ValidationError({"targets": ["A list of target ids."]}) from None
    if not ids:
        raise ValidationError({"targets": ["Choose at least one target."]})
    targets = list(Target.objects.filter(team=team, pk__in=ids))
    missing = sorted(set(ids) - {t.pk for t in targets})
    if missing:
        raise ValidationError(
            {"targets": [f"Unknown target id(s): {', '.join(map(str, missing))}."]}
        )
    report = scan_scope_check(team=team, targets=targets)
    if report.refused:
        raise ValidationError(
            {"targets": [f"Out of scope — {reason}" for reason in report.refused]}
        )
    return targets


def _require_consent(consent: Any) -> None:
    if consent is not True:
        raise ValidationError(
            {
                "authorize_targets": [
                    "Confirm that you are authorized to scan these targets on this schedule."
                ]
            }
        )


def _all_checked(*checks: Callable[[], Any]) -> list[Any]:
    """Run every check and raise one ValidationError with all their problems (a missing
    consent must not hide a bad cron); else return their results in order."""
    results: list[Any] = []
    problems: dict[str, list[str]] = {}
    for check in checks:
        try:
            results.append(check())
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                problems.setdefault(field, []).extend(messages)
            results.append(None)
    if problems:
        raise ValidationError(problems)
    return results


def next_run_from(schedule: ScanSchedule, now: datetime) -> datetime:
    if schedule.cron:
        result: datetime = croniter(schedule.cron, now).get_next(datetime)
        return result
    return now + timedelta(hours=schedule.every_hours or 1)


def _q_sync(schedule: ScanSchedule, *, reset_next_run: bool) -> None:
    """Create or update the django-q2 Schedule that fires this one."""
    from django_q.models import Schedule

    q = schedule.q_schedule or Schedule(
        func="integrations.tasks.schedule_fire", args=repr((schedule.pk,))
    )
    q.name = f"outpost schedule #{schedule.pk}"[:100]
    if schedule.cron:
        q.schedule_type, q.cron, q.minutes = Schedule.CRON, schedule.cron, None
    else:
        q.schedule_type, q.cron = Schedule.MINUTES, None
        q.minutes = (schedule.every_hours or 1) * 60
    q.repeats = 0 if schedule.is_paused else -1
    if reset_next_run or q.pk is None:
        q.next_run = next_run_from(schedule, timezone.now())
    q.save()
    if schedule.q_schedule_id != q.pk:
        schedule.q_schedule = q
        schedule.save(update_fields=["q_schedule"])


def schedule_create(
    *,
    team: Team,
    user: User | None,
    name: str,
    workflow_id: Any,
    target_ids: Any,
    consent: Any,
    cron: Any = "",
    every_hours: Any = None,
) -> ScanSchedule:
    """Schedule `workflow` on the team's targets. Needs consent now (recorded with the user and
    the time); every run then scans as this user, only while the targets stay in scope."""
    _, (cron, hours), name, workflow, targets = _all_checked(
        lambda: _require_consent(consent),
        lambda: _clean_cadence(cron, every_hours),
        lambda: _clean_name(name),
        lambda: _team_workflow(team, workflow_id),
        lambda: _team_targets(team, target_ids),
    )
    now = timezone.now()
    with transaction.atomic():
        schedule = ScanSchedule.objects.create(
            team=team, name=name, workflow=workflow, cron=cron, every_hours=hours,
            has_consent=True, consented_by=user, consented_at=now, created_by=user, created_at=now,
        )  # fmt: skip
        schedule.targets.set(targets)
        _q_sync(schedule, reset_next_run=True)
        audit_record(
            "schedule.created",
            user=user,
            team=team,
            detail={
                "schedule_id": schedule.pk, "workflow_id": workflow.pk, "cadence": schedule.cadence,
                "authorize_targets": True, "targets": [t.value for t in targets][:100],
            },
        )  # fmt: skip
    return schedule


def schedule_update(
    *,
    schedule: ScanSchedule,
    user: User | None,
    name: Any = UNSET,
    workflow_id: Any = UNSET,
    target_ids: Any = UNSET,
    cron: Any = UNSET,
    every_hours: Any = UNSET,
    consent: Any = UNSET,
) -> ScanSchedule:
    """Change a schedule. A new workflow or target set needs consent again (it becomes this
    user's schedule: runs start as them)."""
    changed: list[str] = []
    new_scope = workflow_id is not UNSET or target_ids is not UNSET
    new_name, cadence, _, workflow, targets = _all_checked(
        lambda: _clean_name(name) if name is not UNSET else None,
        lambda: (
            _clean_cadence(
                "" if cron is UNSET else cron, None if every_hours is UNSET else every_hours
            )
            if cron is not UNSET or every_hours is not UNSET
            else None
        ),
        lambda: _require_consent(consent) if new_scope else None,
        lambda: _team_workflow(schedule.team, workflow_id) if workflow_id is not UNSET else None,
        lambda: _team_targets(schedule.team, target_ids) if target_ids is not UNSET else None,
    )
    if new_name is not None:
        schedule.name = new_name
        changed.append("name")
    reset = cadence is not None
    if cadence is not None:
        schedule.cron, schedule.every_hours = cadence
        changed.append("cadence")
    if new_scope:
        if workflow is not None:
            schedule.workflow = workflow
            changed.append("workflow")
        if targets is not None:
            changed.append("targets")
        schedule.consented_by = schedule.created_by = user
        schedule.consented_at = timezone.now()
    with transaction.atomic():
        schedule.save()
        if targets is not None:
            schedule.targets.set(targets)
        _q_sync(schedule, reset_next_run=reset)
        if changed:
            audit_record(
                "schedule.updated",
                user=user,
                team=schedule.team,
                detail={"schedule_id": schedule.pk, "fields": changed, "cadence": schedule.cadence},
            )
    return schedule


def schedule_pause(*, schedule: ScanSchedule, user: User | None) -> ScanSchedule:
    return _set_paused(schedule, user, paused=True)


def schedule_resume(*, schedule: ScanSchedule, user: User | None) -> ScanSchedule:
    """Resume; the next run is computed from now (missed runs are not made up)."""
    return _set_paused(schedule, user, paused=False)


def _set_paused(schedule: ScanSchedule, user: User | None, *, paused: bool) -> ScanSchedule:
    with transaction.atomic():
        updated = ScanSchedule.objects.filter(pk=schedule.pk, is_paused=not paused).update(
            is_paused=paused
        )
        schedule.is_paused = paused
        _q_sync(schedule, reset_next_run=not paused)
        if updated:
            audit_record(
                "schedule.paused" if paused else "schedule.resumed",
                user=user,
                team=schedule.team,
                detail={"schedule_id": schedule.pk},
            )
    return schedule


def schedule_delete(*, schedule: ScanSchedule, user: User | None) -> None:
    """Delete the schedule and its django-q2 Schedule; scans it started stay."""
    with transaction.atomic():
        audit_record(
            "schedule.deleted", user=user, team=schedule.team, detail={"schedule_id": schedule.pk}
        )
        schedule.delete()  # its django-q2 Schedule goes too (post_delete, integrations.apps)


# --- firing ------------------------------------------------------------------------------------


def _creator_problem(schedule: ScanSchedule) -> str:
    user = schedule.created_by
    if user is None or not user.is_active:
        return "the account that created it is gone or disabled; save the schedule again"
    role = (
        Membership.objects.filter(team_id=schedule.team_id, user=user)
        .values_list("role", flat=True)
        .first()
    )
    if not role_at_least(role, Role.ANALYST):
        return f"{user.email} is no longer an analyst or owner of the team; save the schedule again"
    return ""


def _fired_failed(schedule: ScanSchedule, reason: str, now: datetime) -> str:

    ScanSchedule.objects.filter(pk=schedule.pk).update(
        last_run_at=now, last_error=reason[:4000], failures_count=schedule.failures_count + 1
    )
    audit_record(
        "schedule.failed",
        outcome=AuditEvent.Outcome.FAILED,
        team=schedule.team,
        user_email="scheduler",
        detail={"schedule_id": schedule.pk, "reason": reason[:1000]},
    )
    log.warning("schedule.failed", schedule_id=schedule.pk, reason=reason[:300])
    schedule_failure_notify(team=schedule.team, schedule_name=schedule.name, error=reason)
    return f"not started: {reason[:200]}"


def schedule_fire(schedule_id: int) -> str:
    """Start one scheduled scan (the django-q2 task body). Returns the outcome."""

    schedule = (
        ScanSchedule.objects.select_related("team", "workflow", "created_by", "last_scan")
        .filter(pk=schedule_id)
        .first()
    )
    if schedule is None:
        return "schedule gone"
    if schedule.is_paused:
        return "paused"
    now = timezone.now()
    if schedule.last_scan is not None and not schedule.last_scan.is_finished:
        return _fired_failed(
            schedule,
            f"skipped: scan #{schedule.last_scan.pk} of the previous run is still going",
            now,
        )
    problem = _creator_problem(schedule)
    if problem:
        return _fired_failed(schedule, problem, now)
    try:
        scan = scan_start(
            team=schedule.team,
            user=schedule.created_by,
            workflow=schedule.workflow,
            target_ids=list(schedule.targets.values_list("pk", flat=True)),
            consent=schedule.has_consent,
        )
    except ScanRefused as exc:
        reasons = [m for messages in exc.message_dict.values() for m in messages]
        return _fired_failed(schedule, "; ".join(reasons) or "refused", now)
    ScanSchedule.objects.filter(pk=schedule.pk).update(
        last_run_at=now, last_scan=scan, last_error="", runs_count=schedule.runs_count + 1
    )
    audit_record(
        "schedule.fired",
        team=schedule.team,
        user=schedule.created_by,
        detail={"schedule_id": schedule.pk, "scan_id": scan.pk},
    )
    log.info("schedule.fired", schedule_id=schedule.pk, scan_id=scan.pk)
    return f"started scan #{scan.pk}"
