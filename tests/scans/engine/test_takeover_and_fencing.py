"""A dead worker's steps run again within a minute; a worker that lost its claim cannot write.

The cases an outside check measured: `kill -9` of a worker left its prefetched tasks queued for
~656 s (django-q2's default prefetch, the reaper's hard-coded 10-minute resend); a worker frozen
with SIGSTOP wrote its late result over the re-queued step. Real worker clusters (django-q2
`qcluster`), the test's PostgreSQL and Redis, a real HTTP server on 127.0.0.1 as the target.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from scans.engine.claim import step_claim
from scans.engine.reaper import reap_stale_steps
from scans.engine.step import _finish, _retry
from scans.models import Scan, ScanLog, ScanStep
from scans.services import scan_start
from tests.scanning import wait_scan_done
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def _probe_scans(user: Any, team: Any, make_workflow: Any, target: Any, count: int) -> list[Scan]:
    workflow = make_workflow(
        [{"id": "web", "type": "http_probe", "config": {"schemes": "http", "timeout_s": 120}}]
    )
    return [
        scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)
        for _ in range(count)
    ]


def _running_step() -> ScanStep | None:
    return ScanStep.objects.filter(status="running").first()


@pytest.mark.usefixtures("require_redis")
def test_a_killed_workers_running_and_prefetched_steps_run_again_within_a_minute(
    worker_cluster: Any, user: Any, team: Any, authorize: Any, make_workflow: Any,
    make_http_server: Any,
) -> None:  # fmt: skip
    server = make_http_server(delay_s=60)
    target = authorize(server.url)
    worker_cluster.env["WORKERS"] = "1"
    first = worker_cluster.start()
    scans = _probe_scans(user, team, make_workflow, target, count=4)
    wait_for(_running_step, timeout_s=30, what="a probe to run")
    wait_for(lambda: server.hits, timeout_s=15, what="the probe to reach the server")
    # One running, one in the cluster's task queue, one in its pusher's hand, one in Redis.
    time.sleep(1)

    worker_cluster.kill(first)  # kill -9 of the whole process group
    killed_at = timezone.now()
    server.delay_s = 0
    worker_cluster.env["WORKERS"] = "2"
    worker_cluster.start()  # no manual reaper call: the keeper and the resend do the work
    done = [wait_scan_done(scan.pk, timeout_s=90) for scan in scans]

    assert [scan.status for scan in done] == ["completed"] * 4
    steps = list(ScanStep.objects.filter(scan__in=scans))
    waits = sorted(
        (step.started_at - killed_at).total_seconds() for step in steps if step.started_at
    )
    assert len(waits) == 4
    assert waits[-1] <= 60, f"a step started {waits[-1]:.0f} s after the kill: {waits}"
    assert sum(step.attempt for step in steps) == 5  # the killed attempt plus one run each
    for scan in scans:
        assert ScanLog.objects.filter(scan=scan, message="web completed").count() == 1
    assert ScanLog.objects.filter(message__contains="stopped heart-beating").count() == 1


@pytest.mark.usefixtures("require_redis")
def test_a_frozen_workers_late_result_is_discarded_and_logged(
    worker_cluster: Any, user: Any, team: Any, authorize: Any, make_workflow: Any,
    make_http_server: Any,
) -> None:  # fmt: skip
    server = make_http_server(delay_s=25)
    target = authorize(server.url)
    frozen = worker_cluster.start()
    (scan,) = _probe_scans(user, team, make_workflow, target, count=1)
    step = wait_for(_running_step, timeout_s=30, what="the probe to run")
    wait_for(lambda: server.hits, timeout_s=15, what="the probe to reach the server")
    time.sleep(0.5)  # the frozen worker's request is now inside its 25 s answer delay
    os.killpg(frozen.pid, signal.SIGSTOP)
    try:
        server.delay_s = 0
        healthy = worker_cluster.start()
        scan = wait_scan_done(scan.pk, timeout_s=75)
        taken_over = ScanStep.objects.get(pk=step.pk)
        assert taken_over.status == "completed" and taken_over.attempt == 2
        assert taken_over.worker != step.worker
        # The frozen worker's answer arrives (the server sent it at 25 s) once it runs again.
        wait_for(lambda: len(server.hits) == 2, timeout_s=30, what="the second run's request")
    finally:
        os.killpg(frozen.pid, signal.SIGCONT)

    discarded = wait_for(
        lambda: ScanLog.objects.filter(scan=scan, message__contains="discarded").first(),
        timeout_s=30,
        what="the frozen worker's late result to be refused",
    )
    assert f"attempt 1 on {step.worker} discarded" in discarded.message
    assert "lost its claim" in discarded.message
    final = ScanStep.objects.get(pk=step.pk)
    assert (final.status, final.attempt, final.worker) == ("completed", 2, taken_over.worker)
    assert ScanLog.objects.filter(scan=scan, message="web completed").count() == 1
    assert Scan.objects.get(pk=scan.pk).status == "completed"
    assert healthy.poll() is None


def test_a_worker_whose_claim_was_taken_back_writes_nothing(
    user: Any, team: Any, authorize: Any, make_workflow: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "1"}}])
    scan = scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)
    old = step_claim(ScanStep.objects.get(scan=scan).pk)
    assert old is not None and old.claim_token is not None
    ScanStep.objects.filter(pk=old.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert "requeued=1" in reap_stale_steps()
    again = step_claim(old.pk)
    assert again is not None and again.claim_token != old.claim_token

    assert _finish(old, "completed", items_out=99) is False
    assert _retry(old, "late failure").startswith("discarded")

    current = ScanStep.objects.get(pk=old.pk)
    assert (current.status, current.items_out, current.claim_token) == (
        "running",
        0,
        again.claim_token,
    )
    refused = ScanLog.objects.filter(scan=scan, message__contains="discarded")
    assert refused.count() == 2
    assert _finish(again, "completed") is True


@pytest.mark.usefixtures("require_postgres")
def test_a_row_locked_by_a_frozen_transaction_does_not_block_the_reaper(
    user: Any, team: Any, authorize: Any, make_workflow: Any, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and session timeouts are PostgreSQL's")
    settings.REAPER_LOCK_TIMEOUT_MS = 500
    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "1"}}])
    scan = scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)
    step = step_claim(ScanStep.objects.get(scan=scan).pk)
    assert step is not None
    ScanStep.objects.filter(pk=step.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    db = connection.settings_dict
    # Another session, as a frozen worker's: it locked the row and went idle in its transaction.
    frozen = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"],
        password=db.get("PASSWORD") or None,
        options="-c idle_in_transaction_session_timeout=3000",
    )  # fmt: skip
    frozen.execute("SELECT id FROM scans_scanstep WHERE id = %s FOR UPDATE", [step.pk])
    try:
        started = time.monotonic()
        summary = reap_stale_steps()
        assert time.monotonic() - started < 5
        assert "requeued=0" in summary
        assert ScanStep.objects.get(pk=step.pk).status == "running"
        # The server ends the idle transaction (its timeout), and the next sweep takes it back.
        time.sleep(3.5)
        assert "requeued=1" in reap_stale_steps()
    finally:
        with contextlib.suppress(psycopg.Error):
            frozen.close()


@pytest.mark.usefixtures("require_postgres")
def test_every_database_session_ends_a_transaction_left_idle() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL session setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        assert cursor.fetchone()[0] == "1min"


def test_a_cluster_prefetches_one_task_and_one_keeper_sweeps_per_interval(
    settings: Any,
) -> None:
    from django_q.conf import Conf

    from scans.engine.keeper import keeper_sweep_once

    assert Conf.QUEUE_LIMIT == 1
    assert settings.STEP_STALE_AFTER_S + settings.KEEPER_INTERVAL_S <= 30
    assert settings.STEP_LOST_QUEUED_AFTER_S + settings.KEEPER_INTERVAL_S <= 55
    assert keeper_sweep_once() == "requeued=0 failed=0 resent=0"
    assert keeper_sweep_once() is None  # another keeper swept within the interval
