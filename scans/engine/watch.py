"""Guarding one running step: a watcher thread heart-beats it and turns a cancel request or the
step timeout into a stop flag; the runner runs in its own thread so that a stop ends the step on
time even when a runner is stuck in a blocking call (scans.engine.step uses both)."""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

import structlog
from django.conf import settings
from django.db import connection
from django.utils import timezone

from scans.engine.faults import is_infrastructure_fault
from scans.engine.runtime import StepContext, StepFailed, StepResult
from scans.models import Scan, ScanStep, StepStatus

log = structlog.get_logger(__name__)


class StepWatcher(threading.Thread):
    """Heart-beats a running step and raises its stop flag on cancel or timeout."""

    def __init__(self, step: ScanStep) -> None:
        super().__init__(name=f"watch-step-{step.pk}", daemon=True)
        self.step_id = step.pk
        self.scan_id = step.scan_id
        self.timeout_s = step.timeout_s
        self.claim_token = step.claim_token
        self.started = time.monotonic()
        self.stop_flag = threading.Event()
        self.done = threading.Event()
        self.reason = ""
        self._progress: tuple[int, int] | None = None  # (done, total) from the runner
        self._progress_written: tuple[int, int] | None = None

    def progress(self, done: int, total: int) -> None:
        """The runner's per-item progress; written with the next heartbeat (no query here)."""
        self._progress = (max(0, int(done)), max(0, int(total)))

    def run(self) -> None:
        last_beat = 0.0
        try:
            while not self.done.wait(0.5):
                now = time.monotonic()
                if now - self.started > self.timeout_s and not self.stop_flag.is_set():
                    self.reason = f"timed out after {self.timeout_s} s"
                    self.stop_flag.set()
                try:
                    last_beat = self._check_and_beat(now, last_beat)
                except Exception as exc:
                    # The database restarting must not stop the watch (timeouts, cancels and
                    # heartbeats would end with it, and the reaper would re-queue a step that
                    # still runs): drop the broken connection and try again next round.
                    log.warning("step.watcher_error", step_id=self.step_id, error=repr(exc)[:300])
                    connection.close()
        finally:
            connection.close()

    def _check_and_beat(self, now: float, last_beat: float) -> float:
        if (
            not self.stop_flag.is_set()
            and Scan.objects.filter(pk=self.scan_id, cancel_requested_at__isnull=False).exists()
        ):
            self.reason = "cancelled"
            self.stop_flag.set()
        progress = self._progress
        moved = progress is not None and progress != self._progress_written
        if now - last_beat >= settings.STEP_HEARTBEAT_S or (moved and now - last_beat >= 1.0):
            fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
            if moved and progress is not None:
                fields.update(progress_done=progress[0], progress_total=progress[1])
                self._progress_written = progress
            beat = ScanStep.objects.filter(
                pk=self.step_id, status=StepStatus.RUNNING, claim_token=self.claim_token
            ).update(**fields)
            if not beat and not self.stop_flag.is_set():
                # Taken over (this worker was frozen or cut off past STEP_STALE_AFTER_S) or
                # ended elsewhere: stop the tool; whatever it still returns is discarded.
                self.reason = "claim lost: the step was taken over by another worker"
                self.stop_flag.set()
            return now
        return last_beat


STOP_GRACE_S = 1.0


def run_guarded(runner: Any, ctx: StepContext, watcher: StepWatcher) -> StepResult:
    """Run the runner in its own thread so a timeout or cancel ends the step on time even when a
    runner is stuck in a blocking call: tools see the stop flag (executors kill their process or
    container); a runner that does not return within a short grace period is abandoned (its
    thread ends with its own bounded I/O timeouts, its late output is discarded)."""
    box: dict[str, StepResult] = {}

    def target() -> None:
        try:
            box["result"] = runner.run(ctx)
        except StepFailed as exc:
            box["result"] = StepResult(error=exc.reason, transient=exc.transient)
        except Exception as exc:
            summary = traceback.format_exception_only(type(exc), exc)[-1].strip()
            if is_infrastructure_fault(exc):
                log.warning("step.runner_infrastructure_fault", error=summary[:300])
                box["result"] = StepResult(error=f"infrastructure: {summary}", infrastructure=True)
            else:
                log.exception("step.runner_error")
                box["result"] = StepResult(error=f"tool error: {summary}")
        finally:
            connection.close()

    thread = threading.Thread(target=target, name=f"step-{ctx.step_id}", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(timeout=0.2)
            if watcher.stop_flag.is_set():
                thread.join(timeout=STOP_GRACE_S)
                break
    finally:
        watcher.done.set()
        watcher.join(timeout=5)
    if "result" not in box:
        ctx_closed[ctx.step_id] = True
        return StepResult(error=watcher.reason or "stopped")
    return box["result"]


# Steps whose runner was abandoned: their late log lines are dropped.
ctx_closed: dict[int, bool] = {}
