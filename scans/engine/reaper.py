"""The reaper (a django-q2 schedule every minute, and every worker's keeper thread every
KEEPER_INTERVAL_S, scans.engine.keeper): no scan stays stuck.

- A running step whose heartbeat stopped (worker killed, frozen, machine lost) is re-queued
  while it has attempts left, else failed with the reason; its claim token is cleared, so the
  old worker can no longer write it (scans.engine.claim).
- A queued step the broker lost (the Redis was flushed, or a killed worker had taken the task
  without starting it) is handed to the broker again; the claim makes a duplicate harmless.
- The reaper waits at most REAPER_LOCK_TIMEOUT_MS for a step's row lock: a frozen worker in
  the middle of storing a result cannot block the sweep of the others.
- Tool containers of this deployment's steps that are no longer running are removed; those of
  other deployments sharing the Docker engine are not ours to judge (config.deployment).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import structlog
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from config.deployment import deployment_id
from scans.engine.flow import scan_advance, scan_log, step_enqueue
from scans.models import SCAN_TERMINAL, Scan, ScanStep, StepStatus

log = structlog.get_logger(__name__)


def reap_stale_steps(
    *,
    stale_after_s: int | None = None,
    lost_queued_after_s: int | None = None,
    steps_only: bool = False,
) -> str:
    """One sweep; `steps_only` (the keeper's frequent sweep) leaves the finalizing of scans and
    the container clean-up to the every-minute schedule."""
    stale_after = stale_after_s if stale_after_s is not None else settings.STEP_STALE_AFTER_S
    lost_after = (
        lost_queued_after_s
        if lost_queued_after_s is not None
        else settings.STEP_LOST_QUEUED_AFTER_S
    )
    now = timezone.now()
    requeued = failed = resent = 0
    for step in ScanStep.objects.filter(
        status=StepStatus.RUNNING, heartbeat_at__lt=now - timedelta(seconds=stale_after)
    ):
        silent = (
            int((now - step.heartbeat_at).total_seconds()) if step.heartbeat_at else stale_after
        )
        try:
            updated = _take_back(step, now=now, silent=silent)
        except OperationalError as exc:
            # Its row is locked (the worker froze mid-write): the next sweep tries again.
            log.warning("reaper.step_locked", step_id=step.pk, error=repr(exc)[:200])
            continue
        if updated and step.attempt < step.max_attempts:
            requeued += 1
        elif updated:
            failed += 1
            scan_advance(step.scan_id)
    resent = _resend_lost_queued(now=now, lost_after_s=lost_after)
    if steps_only:
        return f"requeued={requeued} failed={failed} resent={resent}"

    # Scans whose steps all ended but that were never finalized (crash between the two).
    for scan_id in (
        Scan.objects.exclude(status__in=SCAN_TERMINAL)
        .filter(mode__in=[Scan.Mode.RUN, Scan.Mode.DEMO])
        .values_list("pk", flat=True)
    ):
        scan_advance(scan_id)

    removed = remove_orphan_containers()
    summary = f"requeued={requeued} failed={failed} resent={resent} containers_removed={removed}"
    if requeued or failed or resent or removed:
        log.info(
            "reaper", requeued=requeued, failed=failed, resent=resent, containers_removed=removed
        )
    return summary


def _lock_timeout() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(settings.REAPER_LOCK_TIMEOUT_MS)}")


def _take_back(step: ScanStep, *, now: datetime, silent: int) -> bool:
    """Re-queue (or fail, past its attempts) a running step whose heartbeat is `silent` s old,
    clearing its claim; conditional on the heartbeat read, so a step that just beat is left."""
    stale = ScanStep.objects.filter(
        pk=step.pk, status=StepStatus.RUNNING, heartbeat_at=step.heartbeat_at
    )
    with transaction.atomic():
        _lock_timeout()
        if step.attempt < step.max_attempts:
            updated = stale.update(
                status=StepStatus.QUEUED, queued_at=now, not_before=None, claim_token=None
            )
            if updated:
                scan_log(
                    step.scan_id,
                    f"{step.node_id}: worker {step.worker} stopped heart-beating {silent} s ago; "
                    f"re-queued (attempt {step.attempt + 1} of {step.max_attempts})",
                    step_id=step.pk,
                    level="warning",
                )
                transaction.on_commit(partial(step_enqueue, step))
            return bool(updated)
        updated = stale.update(
            status=StepStatus.FAILED,
            finished_at=now,
            claim_token=None,
            error=f"worker lost: no heartbeat for {silent} s after {step.attempt} attempt(s)",
        )
        if updated:
            scan_log(
                step.scan_id,
                f"{step.node_id}: failed, worker lost after {step.attempt} attempt(s)",
                step_id=step.pk,
                level="error",
            )
        return bool(updated)


def _resend_lost_queued(*, now: datetime, lost_after_s: int) -> int:
    """Queued and overdue: the broker lost it (a Redis restart without persistence, a killed
    worker's prefetched task), or the one-off schedule of a backoff or delay never ran. The
    resend restarts the step's wait, so a step that merely waits behind busy workers is sent
    again at most once per STEP_LOST_QUEUED_AFTER_S (the claim runs it once)."""
    lost_before = now - timedelta(seconds=lost_after_s)
    resent = 0
    for step in ScanStep.objects.filter(status=StepStatus.QUEUED).filter(
        Q(not_before__isnull=True, queued_at__lt=lost_before) | Q(not_before__lt=lost_before)
    ):
        # Conditional: a step claimed meanwhile is not sent again.
        if ScanStep.objects.filter(
            pk=step.pk, status=StepStatus.QUEUED, queued_at=step.queued_at
        ).update(queued_at=now, not_before=None):
            step_enqueue(step)
            resent += 1
    return resent


def remove_orphan_containers() -> int:
    """This deployment's leftover tool containers and staging volumes on this process's engine."""
    try:
        from scans.engine.executors.docker import remove_orphans
    except ImportError:
        return 0
    running = set(ScanStep.objects.filter(status=StepStatus.RUNNING).values_list("pk", flat=True))
    try:
        return int(
            remove_orphans(
                running, deployment=deployment_id(), min_age_s=settings.REAPER_ORPHAN_MIN_AGE_S
            )
        )
    except Exception as exc:  # no engine reachable: nothing to clean
        log.debug("reaper.docker_unavailable", error=type(exc).__name__)
        return 0
