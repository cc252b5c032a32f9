"""Scheduled scans: creation (consent, cadence, scope), pause/resume, no catch-up storm after
downtime, and runs that cannot start failing visibly. The django-q2 scheduler is the real one,
called directly here (tests/integrations/test_schedule_worker.py waits for a worker's own)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from accounts.models import AuditEvent, Membership, Role
from integrations.models import Delivery, ScanSchedule
from integrations.schedules.services import (
    schedule_create,
    schedule_fire,
    schedule_pause,
    schedule_resume,
    schedule_update,
)
from integrations.services import rule_create
from scans.models import Scan
from targets.models import Target

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(make_workflow: Any) -> Any:
    return make_workflow(
        [{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}], name="nightly ports"
    )


@pytest.fixture
def target(authorize: Any) -> Target:
    return authorize("127.0.0.1")


def _create(team: Any, user: Any, workflow: Any, target: Any, **extra: Any) -> ScanSchedule:
    extra.setdefault("every_hours", 1)
    return schedule_create(
        team=team, user=user, name=extra.pop("name", "hourly ports"), workflow_id=workflow.pk,
        target_ids=[target.pk], consent=True, **extra,
    )  # fmt: skip


def _q(schedule: ScanSchedule) -> Schedule:
    """The schedule's django-q2 row as stored now."""
    return Schedule.objects.get(pk=schedule.q_schedule_id)


def _due(schedule: ScanSchedule, *, ago: timedelta = timedelta(seconds=1)) -> None:
    Schedule.objects.filter(pk=schedule.q_schedule_id).update(next_run=timezone.now() - ago)


def test_a_schedule_needs_consent_a_cadence_and_targets_in_scope(
    team: Any, user: Any, workflow: Any, target: Any, authorize: Any
) -> None:
    base = {
        "team": team,
        "user": user,
        "name": "x",
        "workflow_id": workflow.pk,
        "target_ids": [target.pk],
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"consent": False, "every_hours": 1}, "authorize_targets"),
        ({"consent": True}, "cron"),
        ({"consent": True, "cron": "0 3 * * 1", "every_hours": 2}, "cron"),
        ({"consent": True, "cron": "61 3 * * *"}, "cron"),
        ({"consent": True, "cron": "0 3 * * * *"}, "cron"),
        ({"consent": True, "every_hours": 0}, "every_hours"),
        ({"consent": True, "every_hours": 10_000}, "every_hours"),
        ({"consent": True, "every_hours": 1, "workflow_id": 999999}, "workflow"),
        ({"consent": True, "every_hours": 1, "target_ids": []}, "targets"),
    ]
    for extra, field in cases:
        with pytest.raises(ValidationError) as caught:
            schedule_create(**{**base, **extra})
        assert field in caught.value.message_dict, (extra, caught.value)
    exclusion = authorize("10.9.8.7", excluded=True)
    with pytest.raises(ValidationError, match="exclusion"):
        schedule_create(**{**base, "consent": True, "every_hours": 1, "target_ids": [exclusion.pk]})
    assert (
        not ScanSchedule.objects.exists()
        and not Schedule.objects.filter(name__startswith="outpost schedule").exists()
    )


def test_creating_records_consent_and_a_django_q_schedule(
    team: Any, user: Any, workflow: Any, target: Any
) -> None:
    hourly = _create(team, user, workflow, target)
    weekly = _create(
        team, user, workflow, target, every_hours=None, cron="0  3 * * 1", name="weekly"
    )

    assert hourly.consented_by == user and hourly.consented_at is not None and hourly.has_consent
    q = _q(hourly)
    assert q.func == "integrations.tasks.schedule_fire" and q.args == repr((hourly.pk,))
    assert (q.schedule_type, q.minutes, q.repeats) == (Schedule.MINUTES, 60, -1)
    assert timedelta(minutes=59) < q.next_run - timezone.now() <= timedelta(hours=1)
    assert weekly.cron == "0 3 * * 1"
    assert _q(weekly).schedule_type == Schedule.CRON
    assert weekly.next_run_at.weekday() == 0 and (
        weekly.next_run_at.hour,
        weekly.next_run_at.minute,
    ) == (3, 0)
    event = AuditEvent.objects.get(action="schedule.created", detail__schedule_id=hourly.pk)
    assert event.detail["authorize_targets"] is True and event.user == user


def test_a_missed_schedule_runs_once_after_downtime_not_once_per_missed_period(
    sync_tasks: None, team: Any, user: Any, workflow: Any, target: Any
) -> None:
    schedule = _create(team, user, workflow, target)
    _due(schedule, ago=timedelta(hours=5, minutes=30))  # five missed hourly runs

    scheduler()
    scheduler()

    schedule.refresh_from_db()
    assert Scan.objects.filter(workflow=workflow).count() == 1
    assert schedule.runs_count == 1 and schedule.failures_count == 0
    assert schedule.last_scan is not None
    assert schedule.last_scan.requested_by == user and schedule.last_scan.has_consent
    assert _q(schedule).next_run > timezone.now()
    assert AuditEvent.objects.filter(action="schedule.fired").count() == 1


def test_pausing_stops_it_and_resuming_starts_from_now(
    sync_tasks: None, team: Any, user: Any, workflow: Any, target: Any
) -> None:
    schedule = _create(team, user, workflow, target)
    schedule_pause(schedule=schedule, user=user)
    _due(schedule, ago=timedelta(hours=3))

    scheduler()
    assert schedule_fire(schedule.pk) == "paused"  # a task already queued does nothing either
    assert not Scan.objects.exists()
    schedule.refresh_from_db()
    assert schedule.is_paused and schedule.next_run_at is None
    assert _q(schedule).repeats == 0

    schedule_resume(schedule=schedule, user=user)
    schedule.refresh_from_db()
    assert _q(schedule).repeats == -1
    assert _q(schedule).next_run > timezone.now() + timedelta(minutes=59)
    scheduler()
    assert not Scan.objects.exists()  # not due: the paused hours are not made up


def test_a_schedule_whose_target_left_scope_fails_visibly_instead_of_scanning(
    team: Any, user: Any, workflow: Any, target: Any, make_integration: Any, receiver: Any
) -> None:
    slack = make_integration("slack", receiver.url("/slack/failures"))
    rule_create(team=team, user=user, event="scan_failed", integration_id=slack.pk)
    schedule = _create(team, user, workflow, target)
    Target.objects.filter(pk=target.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    outcome = schedule_fire(schedule.pk)

    assert outcome.startswith("not started: Out of scope")
    assert not Scan.objects.exists()
    schedule.refresh_from_db()
    assert schedule.failures_count == 1 and schedule.runs_count == 0
    assert "127.0.0.1" in schedule.last_error and "Out of scope" in schedule.last_error
    assert AuditEvent.objects.get(action="schedule.failed").outcome == "failed"
    [delivery] = Delivery.objects.filter(integration=slack)
    assert delivery.event == "schedule_failed"
    assert delivery.payload["title"] == "Scheduled scan “hourly ports” could not start"


def test_a_creator_who_lost_the_analyst_role_cannot_scan_on_schedule(
    team: Any, user: Any, workflow: Any, target: Any, make_member: Any
) -> None:
    analyst = make_member(team, Role.ANALYST)
    schedule = _create(team, analyst, workflow, target)
    Membership.objects.filter(team=team, user=analyst).update(role=Role.VIEWER)

    assert "no longer an analyst" in schedule_fire(schedule.pk)
    assert not Scan.objects.exists()


def test_a_run_is_skipped_while_the_previous_one_is_still_going(
    team: Any, user: Any, workflow: Any, target: Any
) -> None:
    schedule = _create(team, user, workflow, target)
    assert schedule_fire(schedule.pk).startswith("started scan #")

    assert "still going" in schedule_fire(schedule.pk)
    assert Scan.objects.count() == 1


def test_changing_targets_needs_consent_again(
    team: Any, user: Any, workflow: Any, target: Any, authorize: Any, make_member: Any
) -> None:
    schedule = _create(team, user, workflow, target)
    other = authorize("127.0.0.2")
    colleague = make_member(team, Role.ANALYST)
    with pytest.raises(ValidationError, match="authorized"):
        schedule_update(schedule=schedule, user=colleague, target_ids=[other.pk])

    schedule_update(
        schedule=schedule, user=colleague, target_ids=[other.pk], consent=True, cron="*/30 * * * *"
    )
    schedule.refresh_from_db()
    assert list(schedule.targets.all()) == [other]
    assert schedule.consented_by == colleague and schedule.created_by == colleague
    assert schedule.cron == "*/30 * * * *" and schedule.every_hours is None
    assert _q(schedule).schedule_type == Schedule.CRON


def test_deleting_the_workflow_removes_the_schedule_and_its_django_q_row(
    team: Any, user: Any, workflow: Any, target: Any
) -> None:
    schedule = _create(team, user, workflow, target)
    q_id = schedule.q_schedule_id
    workflow.delete()
    assert not ScanSchedule.objects.exists()
    assert not Schedule.objects.filter(pk=q_id).exists()


def test_the_schedules_api(owner_api: Any, workflow: Any, target: Any, make_user: Any) -> None:
    created = owner_api.post(
        "/api/v1/schedules",
        {"name": "nightly", "workflow": workflow.pk, "targets": [target.pk], "cron": "0 2 * * *",
         "authorize_targets": True},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["cadence"] == "cron 0 2 * * *" and body["next_run_at"] and not body["is_paused"]
    pk = body["id"]

    paused = owner_api.post(f"/api/v1/schedules/{pk}/pause").json()
    assert paused["is_paused"] is True and paused["next_run_at"] is None
    resumed = owner_api.post(f"/api/v1/schedules/{pk}/resume").json()
    assert resumed["is_paused"] is False and resumed["next_run_at"]
    changed = owner_api.patch(f"/api/v1/schedules/{pk}", {"every_hours": 6}, format="json")
    assert changed.status_code == 200 and changed.json()["cadence"] == "every 6 hours"

    refused = owner_api.post(
        "/api/v1/schedules",
        {"name": "x", "workflow": workflow.pk, "targets": [target.pk], "every_hours": 1,
         "authorize_targets": False, "extra": 1},
        format="json",
    )  # fmt: skip
    assert refused.status_code == 400 and "extra" in refused.json()["errors"]
    no_consent = owner_api.post(
        "/api/v1/schedules",
        {"name": "x", "workflow": workflow.pk, "targets": [target.pk], "every_hours": 1,
         "authorize_targets": False},
        format="json",
    )  # fmt: skip
    assert no_consent.status_code == 400 and "authorize_targets" in no_consent.json()["errors"]
    assert owner_api.get("/api/v1/schedules").json()["count"] == 1
    assert owner_api.delete(f"/api/v1/schedules/{pk}").status_code == 204
    assert owner_api.get(f"/api/v1/schedules/{pk}").status_code == 404
