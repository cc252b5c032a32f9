"""Claims and fencing: which worker may write a running step.

A step is claimed with a conditional UPDATE (queued → running) that also gives the attempt a new
`claim_token`. Every later write of that worker (heartbeats, the scope step's counts, the result,
the status change) is an UPDATE conditional on (running, that token). When the reaper takes a
stale step back it clears the token, so a worker that was frozen (SIGSTOP, a stalled VM, a network
partition) and wakes up later cannot write anything: its late result is discarded and logged,
and the attempt that replaced it is the only one the scan keeps.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta
from typing import Any

import structlog
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from scans.engine.flow import scan_log
from scans.models import ScanStep, StepStatus

log = structlog.get_logger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def step_claim(step_id: int) -> ScanStep | None:
    """queued → running with a new claim token, once: a task delivered twice runs once."""
    now = timezone.now()
    due = Q(not_before__isnull=True) | Q(not_before__lte=now + timedelta(seconds=1))
    token = uuid.uuid4()
    claimed = (
        ScanStep.objects.filter(pk=step_id, status=StepStatus.QUEUED)
        .filter(due)
        .update(
            status=StepStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempt=F("attempt") + 1,
            worker=worker_name(),
            claim_token=token,
            error="",
        )
    )
    if claimed != 1:
        return None
    return ScanStep.objects.select_related("scan", "scan__team").get(pk=step_id)


def claimed(step: ScanStep) -> QuerySet[ScanStep]:
    """The step's row, only while `step`'s claim holds (running, same token)."""
    return ScanStep.objects.filter(
        pk=step.pk, status=StepStatus.RUNNING, claim_token=step.claim_token
    )


def step_write(step: ScanStep, **fields: Any) -> bool:
    """Write `fields` to the step if this worker's claim still holds (and onto `step`)."""
    written = claimed(step).update(**fields) == 1
    if written:
        for name, value in fields.items():
            setattr(step, name, value)
    return written


def claim_lost(step: ScanStep, what: str) -> str:
    """Log that this worker lost the step's claim, so `what` (its late result, a status change)
    is discarded; returns the task's outcome line."""
    current = ScanStep.objects.filter(pk=step.pk).values("status", "attempt", "worker").first()
    now_held = (
        f"now {current['status']}, attempt {current['attempt']} on {current['worker'] or '-'}"
        if current
        else "the step is gone"
    )
    log.warning(
        "step.claim_lost", step_id=step.pk, attempt=step.attempt, worker=step.worker, what=what
    )
    scan_log(
        step.scan_id,
        f"{step.node_id}: {what} of attempt {step.attempt} on {step.worker} discarded: "
        f"that worker lost its claim (it stopped heart-beating and the step was taken over; "
        f"{now_held})",
        step_id=step.pk,
        level="warning",
    )
    return f"discarded: claim lost ({what})"
