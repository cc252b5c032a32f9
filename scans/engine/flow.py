"""How a scan moves forward, with no task ever waiting for another.

- `scan_enqueue_roots` queues the steps without parents when a scan starts.
- When a step ends, `scan_advance` queues every pending step whose parents have all ended (a
  conditional UPDATE pending → queued, so two parents finishing together queue a child once),
  skips the dependants of failed steps, and finalizes the scan when nothing is left.
- Delayed work (backoff, a delay node) is a one-off django-q2 schedule, not a sleeping task.
The step itself runs in `scans.engine.step`.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from scans.assets.recording import scan_assets_conclude
from scans.engine.faults import is_infrastructure_fault
from scans.findings.storage import scan_counts_refresh
from scans.models import (
    SCAN_TERMINAL,
    STEP_TERMINAL,
    Scan,
    ScanLog,
    ScanStatus,
    ScanStep,
    StepStatus,
)
from scans.signals import scan_finished

log = structlog.get_logger(__name__)


def scan_log(
    scan_id: int, message: str, *, step_id: int | None = None, level: str = "info"
) -> None:
    """A line of the scan's log (the live page, the API's `logs`)."""
    ScanLog.objects.create(scan_id=scan_id, step_id=step_id, level=level, message=message[:10000])


# --- Enqueueing ------------------------------------------------------------------------------


def step_enqueue(step: ScanStep, *, at: Any = None) -> None:
    """Hand a queued step to the broker now, or at `at` through a one-off schedule."""
    name = f"scan{step.scan_id}-{step.node_id}-{step.pk}"
    if at is not None and at > timezone.now():
        _step_run_once(step, f"{name}-{int(at.timestamp())}", at)
        return
    # The queue's own timeout is a last resort behind the step's watcher.
    try:
        async_task(
            "scans.tasks.step_run",
            step.pk,
            task_name=name[:100],
            group=f"scan-{step.scan_id}",
            timeout=min(step.timeout_s + 120, settings.TASK_TIMEOUT_S),
        )
    except Exception as exc:
        if not is_infrastructure_fault(exc):
            raise
        # The broker is away (Redis restarting): a one-off schedule, due now, keeps the hand-off
        # in the database; the cluster's scheduler retries it until the broker takes it.
        log.warning("step.enqueue_deferred", step_id=step.pk, error=repr(exc)[:300])
        now = timezone.now()
        _step_run_once(step, f"{name}-deferred-{int(now.timestamp())}", now)


def _step_run_once(step: ScanStep, name: str, at: Any) -> None:
    """A one-off django-q2 schedule that runs the step at `at` (the scheduler hands it over)."""
    Schedule.objects.create(
        name=name[:100], func="scans.tasks.step_run", args=repr((step.pk,)),
        schedule_type=Schedule.ONCE, repeats=1, next_run=at,
    )  # fmt: skip


def step_queue(step: ScanStep, *, at: Any = None) -> bool:
    """pending → queued exactly once; the broker hand-off happens after the commit."""
    updated = ScanStep.objects.filter(pk=step.pk, status=StepStatus.PENDING).update(
        status=StepStatus.QUEUED, queued_at=timezone.now(), not_before=at
    )
    if updated:
        transaction.on_commit(lambda: step_enqueue(step, at=at))
    return bool(updated)


def scan_enqueue_roots(scan: Scan) -> None:
    Scan.objects.filter(pk=scan.pk, status=ScanStatus.PENDING).update(status=ScanStatus.QUEUED)
    for step in scan.steps.filter(parents=[], status=StepStatus.PENDING):
        step_queue(step)


# --- Advancing and finishing -----------------------------------------------------------------


def scan_advance(scan_id: int) -> None:
    """Enqueue ready steps, skip the dependants of failed ones, finalize when all have ended."""
    with transaction.atomic():
        steps = {s.node_id: s for s in ScanStep.objects.filter(scan_id=scan_id)}
        changed = True
        while changed:
            changed = False
            for step in steps.values():
                if step.status != StepStatus.PENDING:
                    continue
                parents = [steps[p] for p in step.parents if p in steps]
                if not all(p.status in STEP_TERMINAL for p in parents):
                    continue
                broken = [
                    p for p in parents if p.status in (StepStatus.FAILED, StepStatus.CANCELLED)
                ]
                if broken:
                    reason = f"skipped: parent {broken[0].node_id} {broken[0].status}"
                    if _skip(step, reason):
                        changed = True
                    continue
                if step_queue(step):
                    step.status = StepStatus.QUEUED
    scan_finalize_if_done(scan_id)


def _skip(step: ScanStep, reason: str) -> bool:
    now = timezone.now()
    updated = ScanStep.objects.filter(pk=step.pk, status=StepStatus.PENDING).update(
        status=StepStatus.SKIPPED, error=reason, finished_at=now
    )
    if updated:
        step.status = StepStatus.SKIPPED
        scan_log(step.scan_id, f"{step.node_id}: {reason}", step_id=step.pk, level="warning")
    return bool(updated)


def scan_finalize_if_done(scan_id: int) -> None:
    scan = Scan.objects.get(pk=scan_id)
    statuses = list(scan.steps.values_list("status", flat=True))
    if scan.status in SCAN_TERMINAL or any(s not in STEP_TERMINAL for s in statuses):
        scan_counts_refresh(scan)
        return
    if scan.cancel_requested_at is not None:
        final = ScanStatus.CANCELLED
    elif any(s in (StepStatus.FAILED, StepStatus.CANCELLED) for s in statuses):
        final = ScanStatus.FAILED
    else:
        final = ScanStatus.COMPLETED
    error = scan.error
    if final == ScanStatus.FAILED and not error:
        failed = scan.steps.filter(status=StepStatus.FAILED).values_list("node_id", "error")
        error = "; ".join(f"{node}: {reason}" for node, reason in failed)[:2000]
    now = timezone.now()
    # Status, end time and error in one UPDATE: a reader never sees "failed" without its reason.
    updated = (
        Scan.objects.filter(pk=scan_id)
        .exclude(status__in=SCAN_TERMINAL)
        .update(status=final, finished_at=now, started_at=scan.started_at or now, error=error)
    )
    if not updated:
        return
    scan.refresh_from_db()
    scan_counts_refresh(scan)
    # Before the signal: notification rules on asset changes read the scan's change set.
    gone = scan_assets_conclude(scan)
    if gone:
        scan_log(scan_id, f"{gone} asset(s) seen by the previous scan of this scope are gone")
    scan_log(scan_id, f"scan {final}", level="error" if final == ScanStatus.FAILED else "info")
    # Things other apps do when a scan ends (notifications, reports) listen to this signal.
    transaction.on_commit(lambda: scan_finished.send(sender=Scan, scan_id=scan_id))
