"""The reaper (a django-q2 schedule, every minute): no scan stays stuck.

- A running step whose heartbeat stopped (worker killed, machine lost) is re-queued while it
  has attempts left, else failed with the reason.
- A queued step the broker lost (e.g. the Redis was flushed) is handed to the broker again;
  the claim makes a duplicate harmless.
- Tool containers of this deployment's steps that are no longer running are removed; those of
  other deployments sharing the Docker engine are not ours to judge (config.deployment).
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.deployment import deployment_id
from scans.engine.flow import scan_advance, scan_log, step_enqueue
from scans.models import SCAN_TERMINAL, Scan, ScanStep, StepStatus

log = structlog.get_logger(__name__)


def reap_stale_steps(
    *, stale_after_s: int | None = None, lost_queued_after_s: int | None = None
) -> str:
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
        with transaction.atomic():
            if step.attempt < step.max_attempts:
                updated = ScanStep.objects.filter(
                    pk=step.pk, status=StepStatus.RUNNING, heartbeat_at=step.heartbeat_at
                ).update(status=StepStatus.QUEUED, queued_at=now, not_before=None)
                if updated:
                    requeued += 1
                    scan_log(
                        step.scan_id,
                        f"{step.node_id}: worker {step.worker} stopped heart-beating {silent} s ago; re-queued (attempt {step.attempt + 1} of {step.max_attempts})",
                        step_id=step.pk,
                        level="warning",
                    )
                    transaction.on_commit(partial(step_enqueue, step))
            else:
                updated = ScanStep.objects.filter(pk=step.pk, status=StepStatus.RUNNING, heartbeat_at=step.heartbeat_at).update(
                    status=StepStatus.FAILED, finished_at=now,
                    error=f"worker lost: no heartbeat for {silent} s after {step.attempt} attempt(s)",
                )  # fmt: skip
                if updated:
                    failed += 1
                    scan_log(
                        step.scan_id,
                        f"{step.node_id}: failed, worker lost after {step.attempt} attempt(s)",
                        step_id=step.pk,
                        level="error",
                    )
        if updated and not step.attempt < step.max_attempts:
            scan_advance(step.scan_id)

    # Queued and overdue: the broker lost it (a Redis restart without persistence), or the
    # one-off schedule of a backoff or delay never ran.
    lost_before = now - timedelta(seconds=lost_after)
    for step in ScanStep.objects.filter(status=StepStatus.QUEUED).filter(
        Q(not_before__isnull=True, queued_at__lt=lost_before) | Q(not_before__lt=lost_before)
    ):
        step_enqueue(step)
        resent += 1

    # Scans whose steps all ended but that were never finalized (crash between the two).
    for scan_id in (
        Scan.objects.exclude(status__in=SCAN_TERMINAL)
        .filter(mode=Scan.Mode.RUN)
        .values_list("pk", flat=True)
    ):
        scan_advance(scan_id)

    removed = _remove_orphan_containers()
    summary = f"requeued={requeued} failed={failed} resent={resent} containers_removed={removed}"
    if requeued or failed or resent or removed:
        log.info(
            "reaper", requeued=requeued, failed=failed, resent=resent, containers_removed=removed
        )
    return summary


def _remove_orphan_containers() -> int:
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
