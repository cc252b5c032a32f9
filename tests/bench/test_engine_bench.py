"""Engine benchmarks (`make bench`; not part of `make test`).

1. Overhead per step — queue → claim → run a no-op node → record — over a chain of no-op
   `condition` steps on a real worker, median and p95, printed as a ratio to the raw round trip
   of a no-op django-q2 task on the same broker in the same run.
2. 200 concurrent small scans complete with none lost; scans per minute.

The broker is whatever this run is configured with: ORM by default, Redis with REDIS_URL
(`make bench` runs this file once for each when Redis answers).
"""

from __future__ import annotations

import statistics
import time
from functools import partial
from typing import Any

import pytest
from django.conf import settings
from django_q.models import Task
from django_q.tasks import async_task

from scans.models import Scan, ScanStep
from scans.services import scan_start
from tests.scanning import wait_scan_done
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

CHAIN = 30
CONCURRENT_SCANS = 200
NOOP = {"type": "condition", "config": {"min_count": 0}}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _task_done(task_id: str) -> bool:
    return Task.objects.filter(id=task_id).exists()


def _broker() -> str:
    return "redis" if settings.REDIS_URL else "orm"


def test_engine_overhead_per_step(
    worker: Any, user: Any, team: Any, authorize: Any, make_workflow: Any
) -> None:
    # Baseline: a no-op task through the same broker and worker, enqueue → result stored.
    raw = []
    for _ in range(CHAIN):
        started = time.perf_counter()
        task_id = async_task("math.floor", 1.5)
        wait_for(
            partial(_task_done, task_id),
            timeout_s=30,
            interval_s=0.01,
            what="the no-op task",
        )
        raw.append(time.perf_counter() - started)

    target = authorize("127.0.0.1")
    nodes = [{"id": f"n{i}", **NOOP} for i in range(CHAIN)]
    edges = [(f"n{i}", f"n{i + 1}") for i in range(CHAIN - 1)]
    workflow = make_workflow(nodes, edges)
    started = time.perf_counter()
    scan = wait_scan_done(
        scan_start(
            team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True
        ).pk,
        timeout_s=300,
    )
    total = time.perf_counter() - started
    assert scan.status == "completed"

    per_step = [
        (s.finished_at - s.queued_at).total_seconds()
        for s in ScanStep.objects.filter(scan=scan)
        if s.finished_at and s.queued_at
    ]
    assert len(per_step) == CHAIN
    med, p95 = statistics.median(per_step), _p95(per_step)
    raw_med, raw_p95 = statistics.median(raw), _p95(raw)
    print(
        f"\n[engine overhead, broker={_broker()}, db={settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}] "
        f"per step (queued → recorded) median {med * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
        f"raw no-op task round trip median {raw_med * 1000:.0f} ms, p95 {raw_p95 * 1000:.0f} ms; "
        f"ratio median {med / raw_med:.2f}x, p95 {p95 / raw_p95:.2f}x; chain of {CHAIN} in {total:.1f} s"
    )


def test_200_concurrent_small_scans_complete_with_none_lost(
    worker: Any, user: Any, team: Any, authorize: Any, make_workflow: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "a", **NOOP}, {"id": "b", **NOOP}], [("a", "b")])
    started = time.perf_counter()
    ids = [
        scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True).pk
        for _ in range(CONCURRENT_SCANS)
    ]
    submitted = time.perf_counter() - started

    def all_done() -> bool:
        return Scan.objects.filter(
            pk__in=ids, status__in=["completed", "failed", "cancelled"]
        ).count() == len(ids)

    wait_for(all_done, timeout_s=900, interval_s=0.5, what=f"{CONCURRENT_SCANS} scans")
    elapsed = time.perf_counter() - started
    statuses = list(Scan.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses.count("completed") == CONCURRENT_SCANS, {
        s: statuses.count(s) for s in set(statuses)
    }
    print(
        f"\n[{CONCURRENT_SCANS} concurrent scans, broker={_broker()}] all completed, none lost: "
        f"{elapsed:.1f} s ({submitted:.1f} s to submit), {CONCURRENT_SCANS / elapsed * 60:.0f} scans/minute "
        f"with {settings.Q_CLUSTER['workers']} worker processes"
    )
    assert wait_scan_done(ids[-1]).status == "completed"
