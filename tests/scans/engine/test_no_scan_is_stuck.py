"""No scan is ever stuck: killed workers, tools past their timeout, cancels, duplicate deliveries,
failed branches. Real worker processes and real sockets on 127.0.0.1 only."""

from __future__ import annotations

import time
from typing import Any

import pytest

from scans.engine.flow import step_enqueue
from scans.engine.reaper import reap_stale_steps
from scans.engine.step import step_run
from scans.models import Scan, ScanLog, ScanStep
from scans.services import scan_start
from tests.scanning import wait_scan_done
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def _probe_workflow(
    make_workflow: Any, *, timeout_s: int = 120, request_timeout_ms: int = 60000
) -> Any:
    return make_workflow(
        [
            {
                "id": "web",
                "type": "http_probe",
                "config": {
                    "schemes": "http",
                    "timeout_ms": request_timeout_ms,
                    "timeout_s": timeout_s,
                },
            }
        ]
    )


def _start(user: Any, team: Any, workflow: Any, target: Any) -> Scan:
    return scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)


def _running(scan: Scan, node_id: str) -> ScanStep | None:
    step = ScanStep.objects.get(scan=scan, node_id=node_id)
    return step if step.status == "running" else None


def test_a_tool_past_its_timeout_is_stopped_and_the_step_fails_with_the_reason(
    worker: Any, user: Any, team: Any, authorize: Any, make_workflow: Any, hanging_port: int
) -> None:
    target = authorize(f"http://127.0.0.1:{hanging_port}/")
    scan = _start(user, team, _probe_workflow(make_workflow, timeout_s=2), target)
    started = time.monotonic()

    scan = wait_scan_done(scan.pk, timeout_s=60)

    assert scan.status == "failed"
    step = ScanStep.objects.get(scan=scan, node_id="web")
    assert step.status == "failed"
    assert step.error == "timed out after 2 s"
    assert time.monotonic() - started < 30


def test_cancel_during_a_run_ends_the_scan_within_5_seconds(
    worker: Any,
    owner_api: Any,
    user: Any,
    team: Any,
    authorize: Any,
    make_workflow: Any,
    hanging_port: int,
) -> None:
    target = authorize(f"http://127.0.0.1:{hanging_port}/")
    scan = _start(user, team, _probe_workflow(make_workflow), target)
    wait_for(lambda: _running(scan, "web"), timeout_s=30, what="the probe to run")

    asked = time.monotonic()
    answer = owner_api.post(f"/api/v1/scans/{scan.pk}/cancel")
    assert answer.status_code == 200
    scan = wait_scan_done(scan.pk, timeout_s=10)
    elapsed = time.monotonic() - asked

    assert scan.status == "cancelled"
    assert ScanStep.objects.get(scan=scan, node_id="web").status == "cancelled"
    assert elapsed < 5, f"cancel took {elapsed:.1f} s"
    assert owner_api.post(f"/api/v1/scans/{scan.pk}/cancel").status_code == 409


def test_a_killed_worker_is_reaped_and_the_step_reruns_to_completion(
    worker_cluster: Any,
    user: Any,
    team: Any,
    authorize: Any,
    make_workflow: Any,
    make_http_server: Any,
) -> None:
    server = make_http_server(delay_s=60)
    target = authorize(server.url)
    first = worker_cluster.start()
    scan = _start(user, team, _probe_workflow(make_workflow), target)
    wait_for(lambda: _running(scan, "web"), timeout_s=30, what="the probe to run")
    wait_for(lambda: server.hits, timeout_s=15, what="the probe to reach the server")

    worker_cluster.kill(first)  # kill -9, mid-step
    server.delay_s = 0
    summary = reap_stale_steps(stale_after_s=0)
    assert "requeued=1" in summary
    worker_cluster.start()
    scan = wait_scan_done(scan.pk, timeout_s=60)

    assert scan.status == "completed", scan.error
    step = ScanStep.objects.get(scan=scan, node_id="web")
    assert step.attempt == 2
    assert step.items_out == 1
    assert ScanLog.objects.filter(scan=scan, message__contains="stopped heart-beating").exists()


def test_a_step_whose_worker_never_comes_back_fails_after_the_attempt_limit(
    user: Any, team: Any, authorize: Any, make_workflow: Any, settings: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "1"}}])
    scan = _start(user, team, workflow, target)
    step = ScanStep.objects.get(scan=scan)
    # As if the step had been claimed by a worker that died, three times over.
    ScanStep.objects.filter(pk=step.pk).update(
        status="running", attempt=step.max_attempts, heartbeat_at=scan.created_at
    )

    assert "failed=1" in reap_stale_steps(stale_after_s=0)

    scan.refresh_from_db()
    step.refresh_from_db()
    assert step.status == "failed"
    assert (
        step.error.startswith("worker lost: no heartbeat for ")
        and f"after {step.max_attempts} attempt(s)" in step.error
    )
    assert scan.status == "failed"


def test_a_duplicate_delivery_runs_the_step_once(
    worker_cluster: Any, user: Any, team: Any, authorize: Any, make_workflow: Any, http_server: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow(
        [{"id": "ports", "type": "port_scan", "config": {"ports": str(http_server.port)}}]
    )
    scan = _start(user, team, workflow, target)
    step = ScanStep.objects.get(scan=scan)
    step_enqueue(step)  # the broker now holds the same task twice
    worker_cluster.start()

    scan = wait_scan_done(scan.pk)

    assert scan.status == "completed"
    step.refresh_from_db()
    assert step.attempt == 1
    assert ScanLog.objects.filter(scan=scan, message="ports completed").count() == 1
    # and a late third delivery is a no-op
    assert step_run(step.pk).startswith("not claimed")


def test_a_failed_branch_skips_its_dependants_and_the_other_branch_completes(
    worker: Any,
    user: Any,
    team: Any,
    authorize: Any,
    make_workflow: Any,
    hanging_port: int,
    http_server: Any,
) -> None:
    authorize("127.0.0.1")
    target = authorize(f"http://127.0.0.1:{hanging_port}/")
    workflow = make_workflow(
        [
            {
                "id": "web",
                "type": "http_probe",
                "config": {"schemes": "http", "timeout_ms": 60000, "timeout_s": 2},
            },
            {"id": "tls", "type": "tls_inspect", "config": {}},
            {"id": "dns", "type": "dns_resolve", "config": {}},
        ],
        edges=[("web", "tls")],
    )
    scan = wait_scan_done(_start(user, team, workflow, target).pk)

    steps = {s.node_id: s for s in scan.steps.all()}
    assert steps["web"].status == "failed"
    assert steps["tls"].status == "skipped"
    assert steps["tls"].error == "skipped: parent web failed"
    assert steps["dns"].status in ("completed", "skipped")
    assert scan.status == "failed"
    assert "web: timed out after 2 s" in scan.error
