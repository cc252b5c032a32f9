"""The scan engine: one django-q2 task per step, no task ever waiting for another.

- A step is *claimed* with a conditional UPDATE (queued → running), so a task delivered twice
  runs once.
- When a step ends, `scan_advance` enqueues every pending step whose parents have all ended
  (again with a conditional UPDATE pending → queued, so two parents finishing together enqueue a
  child once), skips the dependants of failed steps, and finalizes the scan when nothing is left.
- A watcher thread heart-beats the step and turns a cancel request or the step timeout into a
  stop signal the runner and the executor see within about a second.
- Attempts, backoff and delays live in ScanStep; delayed work is a one-off django-q2 schedule.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import structlog
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from scans.models import (
    SCAN_TERMINAL,
    STEP_TERMINAL,
    Scan,
    ScanLog,
    ScanStatus,
    ScanStep,
    StepStatus,
)
from scans.findings.storage import (
    artifact_record,
    assets_record,
    findings_drop,
    findings_for,
    findings_store,
    runs_record,
    scan_counts_refresh,
)
from scans.engine.runtime import FindingData, Item, StepContext, StepResult
from scans.engine.watch import StepWatcher, ctx_closed, run_guarded

log = structlog.get_logger(__name__)

LOGIC_NODES = {"condition", "rules", "delay"}
BACKOFF_BASE_S = 5


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def scan_log(
    scan_id: int, message: str, *, step_id: int | None = None, level: str = "info"
) -> None:
    ScanLog.objects.create(scan_id=scan_id, step_id=step_id, level=level, message=message[:10000])


# --- Enqueueing ------------------------------------------------------------------------------


def step_enqueue(step: ScanStep, *, at: Any = None) -> None:
    """Hand a queued step to the broker now, or at `at` through a one-off schedule."""
    from django_q.models import Schedule
    from django_q.tasks import async_task

    name = f"scan{step.scan_id}-{step.node_id}-{step.pk}"
    if at is not None and at > timezone.now():
        Schedule.objects.create(
            name=f"{name}-{int(at.timestamp())}"[:100],
            func="scans.tasks.step_run",
            args=repr((step.pk,)),
            schedule_type=Schedule.ONCE,
            repeats=1,
            next_run=at,
        )
        return
    # The queue's own timeout is a last resort behind the step's watcher.
    async_task(
        "scans.tasks.step_run",
        step.pk,
        task_name=name[:100],
        group=f"scan-{step.scan_id}",
        timeout=min(step.timeout_s + 120, settings.TASK_TIMEOUT_S),
    )


def _queue(step: ScanStep, *, at: Any = None) -> bool:
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
        _queue(step)


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
                if _queue(step):
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
    scan_log(scan_id, f"scan {final}", level="error" if final == ScanStatus.FAILED else "info")
    transaction.on_commit(lambda: _scan_finished_hooks(scan_id))


def _scan_finished_hooks(scan_id: int) -> None:
    """Things other apps do when a scan ends (notifications, reports) register here."""
    from scans.signals import scan_finished

    scan_finished.send(sender=Scan, scan_id=scan_id)


# --- Running one step --------------------------------------------------------------------------


def step_claim(step_id: int) -> ScanStep | None:
    now = timezone.now()
    claimed = (
        ScanStep.objects.filter(pk=step_id, status=StepStatus.QUEUED)
        .filter(transaction_safe_not_before(now))
        .update(
            status=StepStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempt=F("attempt") + 1,
            worker=worker_name(),
            error="",
        )
    )
    if claimed != 1:
        return None
    return ScanStep.objects.select_related("scan", "scan__team").get(pk=step_id)


def transaction_safe_not_before(now: Any) -> Any:
    from django.db.models import Q

    return Q(not_before__isnull=True) | Q(not_before__lte=now + timedelta(seconds=1))


def step_run(step_id: int) -> str:
    """Run one step (the django-q2 task body). Returns a short outcome for the task record."""
    close_old_connections()
    step = step_claim(step_id)
    if step is None:
        return "not claimed (already running, finished, cancelled or not due yet)"
    scan = step.scan
    if scan.cancel_requested_at is not None:
        _finish(step, StepStatus.CANCELLED, "cancelled before it started")
        scan_advance(scan.pk)
        return "cancelled"
    Scan.objects.filter(pk=scan.pk, status__in=[ScanStatus.PENDING, ScanStatus.QUEUED]).update(
        status=ScanStatus.RUNNING, started_at=timezone.now()
    )
    structlog.contextvars.bind_contextvars(scan_id=scan.pk, step=step.node_id)
    try:
        outcome = _execute(step)
    except Exception as exc:  # never leave a step "running" because of our own bug
        log.exception("step.internal_error")
        scan_log(
            scan.pk,
            f"{step.node_id}: internal error {type(exc).__name__}: {exc}",
            step_id=step.pk,
            level="error",
        )
        step.refresh_from_db()
        if step.status == StepStatus.RUNNING:
            _finish(step, StepStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}")
        outcome = "failed"
    finally:
        structlog.contextvars.unbind_contextvars("scan_id", "step")
    scan_advance(scan.pk)
    return outcome


def _finish(step: ScanStep, status: str, error: str = "", **fields: Any) -> None:
    step.status = status
    step.error = error[:5000]
    step.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(step, name, value)
    step.save()
    level = "error" if status == StepStatus.FAILED else "info"
    suffix = f": {error}" if error else ""
    scan_log(step.scan_id, f"{step.node_id} {status}{suffix}", step_id=step.pk, level=level)


def _inputs(step: ScanStep) -> tuple[list[Item], list[str]]:
    """Items and finding fingerprints flowing into the step (targets for a root)."""
    if not step.parents:
        return [Item.from_dict(raw) for raw in step.scan.plan.get("input_items", [])], []
    items: dict[tuple[str, str], Item] = {}
    fingerprints: dict[str, None] = {}  # ordered set
    for parent in ScanStep.objects.filter(scan_id=step.scan_id, node_id__in=step.parents).order_by(
        "position"
    ):
        for raw in parent.output_items:
            item = Item.from_dict(raw)
            items.setdefault((item.kind, item.value), item)
        fingerprints.update(dict.fromkeys(parent.output_findings))
    return list(items.values()), list(fingerprints)


def _execute(step: ScanStep) -> str:
    from targets.scope import ScopeMatcher
    from workflows.nodes import get_node_type

    scan = step.scan
    node = get_node_type(step.node_type)
    runner = import_module(node.runner)
    items, input_fps = _inputs(step)
    matcher = ScopeMatcher.for_team(scan.team_id)

    # Scope is checked again here, before any tool runs: authorizations expire, and upstream
    # steps discover hosts nobody authorized.
    allowed: list[Item] = []
    dropped: list[dict[str, str]] = []
    for item in items:
        verdict = matcher.check(item)
        if verdict.in_scope:
            allowed.append(item)
        else:
            dropped.append({"kind": item.kind, "value": item.value, "reason": verdict.reason})
    if dropped:
        shown = ", ".join(f"{d['value']} ({d['reason']})" for d in dropped[:20])
        more = f" and {len(dropped) - 20} more" if len(dropped) > 20 else ""
        scan_log(
            scan.pk,
            f"{step.node_id}: dropped {len(dropped)} out-of-scope item(s): {shown}{more}",
            step_id=step.pk,
            level="warning",
        )
    input_findings = findings_for(scan, input_fps) if input_fps else []
    step.items_in = len(allowed)
    step.out_of_scope = dropped[:1000]
    step.save(update_fields=["items_in", "out_of_scope"])

    if not allowed and not input_findings:
        reason = "nothing to work on: no in-scope input items"
        if dropped:
            reason += f" ({len(dropped)} dropped as out of scope)"
        _finish(step, StepStatus.SKIPPED, reason)
        return "skipped"

    if step.node_type == "delay" and step.attempt == 1 and step.not_before is None:
        seconds = int(step.config.get("seconds", 0))
        at = timezone.now() + timedelta(seconds=seconds)
        ScanStep.objects.filter(pk=step.pk).update(
            status=StepStatus.QUEUED, not_before=at, attempt=0, started_at=None
        )
        scan_log(
            scan.pk,
            f"{step.node_id}: waiting {seconds} s (until {at:%H:%M:%S} UTC)",
            step_id=step.pk,
        )
        transaction.on_commit(lambda: step_enqueue(step, at=at))
        return "delayed"

    workdir = settings.ARTIFACTS_DIR / f"scan-{scan.pk}" / f"{step.node_id}-attempt{step.attempt}"
    workdir.mkdir(parents=True, exist_ok=True)
    from scans.engine.executors import get_executor

    executor = get_executor()
    # Built-in and logic nodes run in this process; tool runs overwrite this with their executor.
    step.executor = "engine" if step.node_type in LOGIC_NODES else "builtin"
    step.save(update_fields=["executor"])
    watcher = StepWatcher(step)
    watcher.start()
    log_lock = threading.Lock()

    def step_log(message: str) -> None:
        if ctx_closed.get(step.pk):
            return
        with log_lock:
            scan_log(scan.pk, f"{step.node_id}: {message}", step_id=step.pk)

    ctx = StepContext(
        scan_id=scan.pk,
        step_id=step.pk,
        node_id=step.node_id,
        node_type=step.node_type,
        team_id=scan.team_id,
        config=dict(step.config),
        items=allowed,
        findings=input_findings,
        timeout_s=float(step.timeout_s),
        workdir=workdir,
        executor=executor,
        in_scope=lambda item: matcher.check(item).in_scope,
        log=step_log,
        heartbeat=lambda: None,  # the watcher heart-beats; runners may still call this
        is_cancelled=watcher.stop_flag.is_set,
    )
    result = run_guarded(runner, ctx, watcher)
    if watcher.stop_flag.is_set():
        # A stop request wins over whatever the runner made of it.
        result.error = watcher.reason or result.error or "stopped"
    return _record(step, result, workdir, input_fps)


def _record(step: ScanStep, result: StepResult, workdir: Path, input_fps: list[str]) -> str:
    scan = step.scan
    with transaction.atomic():
        runs_record(scan=scan, step=step, runs=result.runs, workdir=workdir)
        for path in result.artifacts:
            artifact_record(scan=scan, step=step, path=Path(path))
        if result.error:
            if result.error == "cancelled":
                _finish(step, StepStatus.CANCELLED, "cancelled")
                return "cancelled"
            if result.transient and step.attempt < step.max_attempts:
                delay = BACKOFF_BASE_S * 2 ** (step.attempt - 1)
                at = timezone.now() + timedelta(seconds=delay)
                step.status = StepStatus.QUEUED
                step.not_before = at
                step.error = result.error[:5000]
                step.save()
                scan_log(
                    scan.pk,
                    f"{step.node_id}: attempt {step.attempt} failed ({result.error}); retrying in {delay} s",
                    step_id=step.pk,
                    level="warning",
                )
                transaction.on_commit(lambda: step_enqueue(step, at=at))
                return "retrying"
            _finish(step, StepStatus.FAILED, result.error)
            return "failed"

        findings: list[FindingData] = result.findings
        fingerprints = findings_store(scan=scan, step=step, findings=findings)
        if step.node_type == "rules":
            kept = set(fingerprints)
            gone = [fp for fp in input_fps if fp not in kept]
            if gone:
                findings_drop(scan=scan, fingerprints=gone)
                scan_log(
                    scan.pk,
                    f"{step.node_id}: dropped {len(gone)} finding(s) by rule",
                    step_id=step.pk,
                )
        assets_record(scan=scan, items=result.items)
        items_out = [item.to_dict() for item in result.items]
        _finish(
            step,
            StepStatus.COMPLETED,
            items_out=len(items_out),
            output_items=items_out,
            output_findings=fingerprints,
            findings_count=len(fingerprints) if step.node_type not in LOGIC_NODES else 0,
        )
    return "completed"
