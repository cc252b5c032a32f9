"""Running one step of a scan: the django-q2 task body (`scans.tasks.step_run`).

1. The step is *claimed* with a conditional UPDATE (queued → running), so a task delivered twice
   runs once.
2. The scope step: its input items (the scan's targets for a root, else its parents' outputs)
   are checked against the team's scope again, since authorizations expire and upstream steps
   discover hosts nobody authorized; what is dropped is logged and kept on the step.
3. The watched run: the node's runner runs in its own thread while a watcher heart-beats the
   step and turns a cancel request or the step timeout into a stop signal the runner and the
   executor see within about a second.
4. The result is stored (`scans.findings.storage.step_result_store`); this module decides only
   the step's status: completed, failed, cancelled, or queued again with backoff.
Then `scans.engine.flow.scan_advance` moves the scan on.

A fault of the infrastructure (the database, the broker or the Docker engine briefly away,
`scans.engine.faults`) is not the step's: wherever it surfaces, the step is queued again with
backoff without using one of its attempts, up to STEP_INFRA_RETRIES times.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import structlog
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from config.artifacts import artifacts_are_local
from config.deployment import deployment_id
from scans.engine.claim import claim_lost, claimed, step_claim, step_write
from scans.engine.demo import demo_outcome
from scans.engine.executors import get_executor
from scans.engine.faults import is_infrastructure_fault
from scans.engine.flow import scan_advance, scan_log, step_enqueue
from scans.engine.runtime import FindingData, StepContext, StepResult
from scans.engine.sandbox.guard import connect_guard_for, connect_guard_record
from scans.engine.watch import StepWatcher, ctx_closed, run_guarded
from scans.findings.storage import findings_for, step_result_store, step_runs_store
from scans.models import Scan, ScanStatus, ScanStep, StepStatus
from targets.items import Item
from targets.scope import ScopeMatcher
from workflows.nodes import NodeType, get_node_type

log = structlog.get_logger(__name__)

BACKOFF_BASE_S = 5
INFRA_BACKOFF_MAX_S = 300
# After a fault in the middle of the task, how long to wait for the database to take the retry
# (seconds between tries); past that the step stays "running" without heartbeats, and the
# reaper re-queues it once the database is back.
INFRA_RECONNECT_WAITS_S = (0.0, 1.0, 2.0, 4.0, 8.0)


__all__ = ["step_claim", "step_run"]


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
    except Exception as exc:
        if not is_infrastructure_fault(exc):
            outcome = _after_internal_error(step, exc)
        else:
            outcome = _after_infrastructure_fault(step, exc)
    finally:
        structlog.contextvars.unbind_contextvars("scan_id", "step")
    try:
        scan_advance(scan.pk)
    except Exception as exc:
        if not is_infrastructure_fault(exc):
            raise
        # The reaper finalizes scans whose steps all ended, and resends queued steps.
        log.warning("step.advance_deferred", scan_id=scan.pk, error=repr(exc)[:300])
    return outcome


def _after_internal_error(step: ScanStep, exc: Exception) -> str:
    """Never leave a step "running" because of our own bug."""
    log.exception("step.internal_error")
    scan_log(
        step.scan_id,
        f"{step.node_id}: internal error {type(exc).__name__}: {exc}",
        step_id=step.pk,
        level="error",
    )
    if not _finish(step, StepStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"):
        return "failed (the claim had been lost already)"
    return "failed"


def _after_infrastructure_fault(claim: ScanStep, exc: Exception) -> str:
    """The database, broker or engine failed under the step: queue it again (backoff, no attempt
    used) as soon as the database takes the write."""
    reason = f"infrastructure: {type(exc).__name__}: {exc}".strip()[:500]
    log.warning("step.infrastructure_fault", step_id=claim.pk, error=reason)
    for wait_s in INFRA_RECONNECT_WAITS_S:
        time.sleep(wait_s)
        connection.close()  # Django would go on using the broken connection
        try:
            with transaction.atomic():
                step = claimed(claim).select_for_update().first()
                if step is None:
                    return claim_lost(claim, "the infrastructure retry")
                return _retry_infrastructure(step, reason)
        except Exception as again:
            if not is_infrastructure_fault(again):
                raise
    log.error("step.infrastructure_unreachable", step_id=claim.pk, error=reason)
    return "left to the reaper (the database did not come back in time)"


# What `runs_record` notes on the step in memory (the commands as run, image, exit code, tails,
# scope enforcement and what the sandbox blocked); written with the status that ends the attempt.
RUN_RECORD_FIELDS = (
    "commands",
    "executor",
    "image",
    "image_digest",
    "exit_code",
    "stdout_tail",
    "stderr_tail",
    "scope_enforcement",
    "blocked",
)


def _run_record(step: ScanStep) -> dict[str, Any]:
    return {name: getattr(step, name) for name in RUN_RECORD_FIELDS}


def _finish(step: ScanStep, status: str, error: str = "", **fields: Any) -> bool:
    """The step's final status, if this worker's claim still holds (else logged, False)."""
    written = step_write(
        step,
        **_run_record(step),
        status=status,
        error=error[:5000],
        finished_at=timezone.now(),
        claim_token=None,
        **fields,
    )
    if not written:
        claim_lost(step, f"the {status} outcome")
        return False
    level = "error" if status == StepStatus.FAILED else "info"
    suffix = f": {error}" if error else ""
    scan_log(step.scan_id, f"{step.node_id} {status}{suffix}", step_id=step.pk, level=level)
    return True


def _execute(step: ScanStep) -> str:
    node = get_node_type(step.node_type)
    runner = import_module(node.runner)
    inputs = step_scope(step)
    usable = [item for item in inputs.items if item.kind in node.accepts]
    if not usable and not inputs.findings:
        _finish(step, StepStatus.SKIPPED, nothing_to_do(step, node, inputs))
        return "skipped"
    demo = step.scan.mode == Scan.Mode.DEMO
    if demo and node.group != "Logic":  # logic nodes run their own code: it touches nothing
        with transaction.atomic():  # synthetic items and demo findings; no tool, no network
            _finish(
                step, StepStatus.COMPLETED, **demo_outcome(step, node, usable, inputs.fingerprints)
            )
        return "completed"
    if node.waits and not demo and step.attempt == 1 and step.not_before is None:
        return _hold(step, seconds=int(runner.wait_s(step.config)))
    retry = f"-retry{step.infra_retries}" if step.infra_retries else ""
    workdir = (
        settings.ARTIFACTS_DIR
        / f"scan-{step.scan_id}"
        / f"{step.node_id}-attempt{step.attempt}{retry}"
    )
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = step_watched_run(step, node, runner, inputs, workdir)
        return _conclude(step, node, result, workdir, inputs.fingerprints)
    finally:
        if not artifacts_are_local():
            # What was kept is in the shared storage now; the worker's disk holds only steps
            # in progress.
            shutil.rmtree(workdir, ignore_errors=True)


def nothing_to_do(step: ScanStep, node: NodeType, inputs: StepInputs) -> str:
    """Why a step has nothing to work on, with the counts: nothing arrived, nothing of a kind
    it accepts arrived, or everything that arrived was out of scope."""
    accepts = ", ".join(sorted(node.accepts)) or "no items"
    dropped = len(inputs.dropped)
    if dropped and not inputs.items:
        first = inputs.dropped[0]
        return (
            f"nothing to work on: all {dropped} input item(s) were out of scope "
            f"(first: {first['value']}: {first['reason']})"
        )
    if inputs.items:
        kinds = ", ".join(sorted({item.kind for item in inputs.items}))
        return (
            f"nothing to work on: {len(inputs.items)} item(s) arrived ({kinds}), none of a "
            f"kind it accepts ({accepts})"
            + (f"; {dropped} more were out of scope" if dropped else "")
        )
    if step.parents:
        return f"nothing to work on: {', '.join(step.parents)} handed on no items ({accepts})"
    return f"nothing to work on: no target of a kind it accepts ({accepts}) was given"


# --- The scope step ------------------------------------------------------------------------------


@dataclass
class StepInputs:
    """What a step works on, after the scope check."""

    items: list[Item] = field(default_factory=list)  # in scope
    findings: list[FindingData] = field(default_factory=list)  # produced upstream
    fingerprints: list[str] = field(default_factory=list)  # of those findings
    dropped: list[dict[str, str]] = field(default_factory=list)  # out of scope, with the reason
    matcher: ScopeMatcher | None = None


def _targets_of(step: ScanStep) -> list[Item]:
    """The scan's targets this step receives: those whose kind it is the first taker of
    (scans.services.scan_entries); a scan planned before entries existed gave its roots all."""
    plan = step.scan.plan
    if "entries" in plan:
        return [Item.from_dict(raw) for raw in plan["entries"].get(step.node_id, [])]
    return [Item.from_dict(raw) for raw in plan.get("input_items", [])] if not step.parents else []


def _inputs(step: ScanStep) -> tuple[list[Item], list[str]]:
    """Items and finding fingerprints flowing into the step: its share of the scan's targets,
    then what its parents handed on."""
    items: dict[tuple[str, str], Item] = {}
    for item in _targets_of(step):
        items.setdefault((item.kind, item.value), item)
    if not step.parents:
        return list(items.values()), []
    fingerprints: dict[str, None] = {}  # ordered set
    for parent in ScanStep.objects.filter(scan_id=step.scan_id, node_id__in=step.parents).order_by(
        "position"
    ):
        for raw in parent.output_items:
            item = Item.from_dict(raw)
            items.setdefault((item.kind, item.value), item)
        fingerprints.update(dict.fromkeys(parent.output_findings))
    return list(items.values()), list(fingerprints)


def step_scope(step: ScanStep) -> StepInputs:
    """The step's inputs, each item checked against the team's scope now (not only at submit:
    authorizations expire, and upstream steps discover hosts nobody authorized). What is dropped
    is logged and kept on the step (`out_of_scope`)."""
    scan = step.scan
    items, fingerprints = _inputs(step)
    matcher = ScopeMatcher.for_team(scan.team_id)
    inputs = StepInputs(fingerprints=fingerprints, matcher=matcher)
    for item in items:
        verdict = matcher.check(item)
        if verdict.in_scope:
            inputs.items.append(item)
        else:
            inputs.dropped.append(
                {"kind": item.kind, "value": item.value, "reason": verdict.reason}
            )
    if inputs.dropped:
        shown = ", ".join(f"{d['value']} ({d['reason']})" for d in inputs.dropped[:20])
        more = f" and {len(inputs.dropped) - 20} more" if len(inputs.dropped) > 20 else ""
        scan_log(
            scan.pk,
            f"{step.node_id}: dropped {len(inputs.dropped)} out-of-scope item(s): {shown}{more}",
            step_id=step.pk,
            level="warning",
        )
    inputs.findings = findings_for(scan, fingerprints) if fingerprints else []
    step_write(step, items_in=len(inputs.items), out_of_scope=inputs.dropped[:1000])
    return inputs


def _hold(step: ScanStep, *, seconds: int) -> str:
    """A waiting node (delay): queued again, due in `seconds`, without holding a worker."""
    at = timezone.now() + timedelta(seconds=seconds)
    lost = _queued_again(
        step, at=at, doing="the delay",
        note=f"{step.node_id}: waiting {seconds} s (until {at:%H:%M:%S} UTC)",
        queued_at=timezone.now(), attempt=0, started_at=None,
    )  # fmt: skip
    return lost or "delayed"


def _queued_again(
    step: ScanStep, *, at: Any, doing: str, note: str, level: str = "info", **fields: Any
) -> str | None:
    """Queue the step again, due at `at` (a one-off schedule: no worker waits for it), and log
    `note`; None, or the task's outcome when another worker took the step meanwhile."""
    if not step_write(step, **fields, status=StepStatus.QUEUED, not_before=at, claim_token=None):
        return claim_lost(step, doing)
    scan_log(step.scan_id, note, step_id=step.pk, level=level)
    transaction.on_commit(lambda: step_enqueue(step, at=at))
    return None


# --- The watched run -----------------------------------------------------------------------------


def step_watched_run(
    step: ScanStep, node: NodeType, runner: ModuleType, inputs: StepInputs, workdir: Path
) -> StepResult:
    """Run the node's runner on its inputs in its own thread, under a watcher that heart-beats
    the step and stops it on cancel or timeout. A stop request wins over what the runner made
    of it (`result.error`)."""
    scan = step.scan
    matcher = inputs.matcher or ScopeMatcher.for_team(scan.team_id)
    # Built-in and logic nodes run in this process; tool runs overwrite this with their executor.
    step_write(step, executor="engine" if node.passthrough else "builtin")
    watcher = StepWatcher(step)
    watcher.start()
    log_lock = threading.Lock()

    def step_log(message: str) -> None:
        if ctx_closed.get(step.pk):
            return
        with log_lock:
            try:
                scan_log(scan.pk, f"{step.node_id}: {message}", step_id=step.pk)
            except Exception as exc:
                if not is_infrastructure_fault(exc):
                    raise
                # A log line lost to a database restart is not worth the tool's run.
                log.warning("step.log_lost", line=message[:200], error=repr(exc)[:200])
                connection.close()

    ctx = StepContext(
        scan_id=scan.pk,
        step_id=step.pk,
        node_id=step.node_id,
        node_type=step.node_type,
        team_id=scan.team_id,
        config=dict(step.config),
        items=inputs.items,
        findings=inputs.findings,
        timeout_s=float(step.timeout_s),
        workdir=workdir,
        executor=get_executor(),
        in_scope=lambda item: matcher.check(item).in_scope,
        scope_verdict=matcher.check,
        connect_guard=None
        if node.passthrough
        else connect_guard_for(inputs.items, verdict=matcher.check, log=step_log),
        log=step_log,
        heartbeat=lambda: None,  # the watcher heart-beats; runners may still call this
        progress=watcher.progress,
        is_cancelled=watcher.stop_flag.is_set,
        deployment=deployment_id(),
    )
    result = run_guarded(runner, ctx, watcher)
    if ctx.connect_guard is not None:
        checked = [r for r in result.runs if r.executor == "builtin" or r.enforcement == "connect"]
        connect_guard_record(checked, ctx.connect_guard)
    if watcher.stop_flag.is_set():
        result.error = watcher.reason or result.error or "stopped"
    return result


# --- The outcome ---------------------------------------------------------------------------------


def _conclude(
    step: ScanStep, node: NodeType, result: StepResult, workdir: Path, input_fps: list[str]
) -> str:
    """Store what the step did and decide its status: completed, cancelled, failed, or queued
    again with backoff (a transient failure with attempts left)."""
    scan = step.scan
    with transaction.atomic():
        # Fence first: this row lock is held until the result is stored, so the reaper cannot
        # take the step back halfway; a worker that already lost its claim stores nothing.
        if not step_write(step, heartbeat_at=timezone.now()):
            return claim_lost(step, "the late result")
        step_runs_store(scan=scan, step=step, result=result, workdir=workdir)
        if result.error:
            if result.error == "cancelled":
                _finish(step, StepStatus.CANCELLED, "cancelled")
                return "cancelled"
            if result.infrastructure:
                return _retry_infrastructure(step, result.error)
            if result.transient and step.attempt < step.max_attempts:
                return _retry(step, result.error)
            _finish(step, StepStatus.FAILED, result.error)
            return "failed"
        stored = step_result_store(
            scan=scan,
            step=step,
            result=result,
            input_fingerprints=input_fps,
            replaces_findings=node.replaces_findings,
            records_assets=not node.passthrough,
        )
        if stored.dropped:
            scan_log(
                scan.pk,
                f"{step.node_id}: dropped {len(stored.dropped)} finding(s) by rule",
                step_id=step.pk,
            )
        _finish(
            step,
            StepStatus.COMPLETED,
            items_out=len(stored.items),
            output_items=stored.items,
            output_findings=stored.fingerprints,
            # A logic node hands on upstream findings: they are not its own.
            findings_count=0 if node.passthrough else len(stored.fingerprints),
        )
    return "completed"


def _retry(step: ScanStep, error: str) -> str:
    delay = BACKOFF_BASE_S * 2 ** (step.attempt - 1)
    at = timezone.now() + timedelta(seconds=delay)
    lost = _queued_again(
        step, at=at, doing="the retry",
        note=f"{step.node_id}: attempt {step.attempt} failed ({error}); retrying in {delay} s",
        level="warning", **_run_record(step), error=error[:5000],
    )  # fmt: skip
    return lost or "retrying"


def _retry_infrastructure(step: ScanStep, reason: str) -> str:
    """Queue the step again after an infrastructure fault: backoff 5 s x 2^n (at most 5 min),
    the attempt it was on not counted, at most STEP_INFRA_RETRIES times."""
    budget = int(settings.STEP_INFRA_RETRIES)
    if step.infra_retries >= budget:
        _finish(step, StepStatus.FAILED, f"{reason} (still failing after {budget} retries)")
        return "failed"
    delay = min(BACKOFF_BASE_S * 2**step.infra_retries, INFRA_BACKOFF_MAX_S)
    at = timezone.now() + timedelta(seconds=delay)
    if not step_write(
        step,
        **_run_record(step),
        status=StepStatus.QUEUED,
        not_before=at,
        error=reason[:5000],
        attempt=max(0, step.attempt - 1),
        infra_retries=step.infra_retries + 1,
        claim_token=None,
    ):
        return claim_lost(step, "the infrastructure retry")
    scan_log(
        step.scan_id,
        f"{step.node_id}: {reason}; retrying in {delay} s "
        f"(infrastructure retry {step.infra_retries} of {budget}; no attempt used)",
        step_id=step.pk,
        level="warning",
    )
    transaction.on_commit(lambda: step_enqueue(step, at=at))
    return "retrying"
