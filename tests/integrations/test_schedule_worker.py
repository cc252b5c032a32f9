"""A schedule fires on a real worker cluster — the cluster's own django-q2 scheduler, which looks
at due schedules every 30 s (hard-wired in django-q2 1.11's guard loop, no setting) — creates a
scan that runs to the end; pausing stops it. Tests that call the scheduler directly:
test_schedules.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from integrations.models import ScanSchedule
from integrations.schedules.services import schedule_create, schedule_pause
from scans.models import Scan
from tests.scanning import wait_scan_done
from tests.workers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCHEDULER_ROUND_S = 30


def _make_due(schedule: ScanSchedule) -> None:
    Schedule.objects.filter(pk=schedule.q_schedule_id).update(
        next_run=timezone.now() - timedelta(seconds=1)
    )


def _fired(schedule: ScanSchedule, runs: int) -> ScanSchedule | None:
    fresh = ScanSchedule.objects.get(pk=schedule.pk)
    return fresh if fresh.runs_count + fresh.failures_count >= runs else None


def test_a_schedule_fires_on_the_worker_and_pausing_stops_it(
    worker_cluster: Any, team: Any, user: Any, authorize: Any, make_workflow: Any, http_server: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow(
        [{"id": "ports", "type": "port_scan", "config": {"ports": str(http_server.port)}}],
        name="scheduled ports",
    )
    hourly = schedule_create(
        team=team, user=user, name="hourly", workflow_id=workflow.pk, target_ids=[target.pk],
        consent=True, every_hours=1,
    )  # fmt: skip
    _make_due(hourly)
    worker_cluster.start()

    fired = wait_for(
        lambda: _fired(hourly, 1), timeout_s=SCHEDULER_ROUND_S + 30, what="the schedule to fire"
    )
    assert fired.runs_count == 1, fired.last_error
    scan = wait_scan_done(fired.last_scan_id)
    assert scan.status == "completed", scan.error
    assert scan.requested_by == user
    assert scan.steps.get().output_items[0]["value"] == f"127.0.0.1:{http_server.port}/tcp"
    assert fired.next_run_at > timezone.now() + timedelta(minutes=50)

    # Paused, and due again: a scheduler round leaves it alone while it fires a second, active
    # schedule (the witness that the round happened). The round is run here rather than waited
    # for: the same django-q2 function, 30 s sooner; the worker runs what it queues.
    schedule_pause(schedule=fired, user=user)
    _make_due(fired)
    witness = schedule_create(
        team=team, user=user, name="witness", workflow_id=workflow.pk, target_ids=[target.pk],
        consent=True, every_hours=2,
    )  # fmt: skip
    _make_due(witness)
    scheduler()
    wait_for(lambda: _fired(witness, 1), timeout_s=30, what="the witness schedule to fire")

    paused = ScanSchedule.objects.get(pk=hourly.pk)
    assert paused.runs_count == 1 and paused.failures_count == 0 and paused.last_scan_id == scan.pk
    assert Scan.objects.filter(workflow=workflow).count() == 2  # the first run and the witness
