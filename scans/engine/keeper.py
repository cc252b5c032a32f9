"""The keeper: a thread in every worker process that sweeps for stale and lost steps every
KEEPER_INTERVAL_S, so a dead or frozen worker's steps run again within about half a minute
instead of waiting for the every-minute reaper schedule (which django-q2's scheduler fires only
every 30-90 s). One sweep per interval across the whole deployment: the first keeper to take a
cache lock (Redis or the database cache, shared by every host) sweeps, the others skip.

Started by django-q2's `post_spawn` signal (scans.apps), i.e. in each worker process, also the
ones the cluster starts again after a task timeout.
"""

from __future__ import annotations

import multiprocessing
import os
import threading

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from scans.engine.reaper import reap_stale_steps, remove_orphan_containers

log = structlog.get_logger(__name__)

SWEEP_LOCK_KEY = "outpost:keeper-sweep"
ENGINE_SWEEP_LOCK_KEY = "outpost:engine-sweep"
ENGINE_SWEEP_S = 60

_started = threading.Event()


def keeper_sweep_once() -> str | None:
    """Sweep if no other keeper swept within the interval; None when skipped."""
    interval = max(1, int(settings.KEEPER_INTERVAL_S))
    if not cache.add(SWEEP_LOCK_KEY, "1", timeout=interval):
        return None
    return reap_stale_steps(steps_only=True)


def engine_sweep_once() -> int | None:
    """Remove this deployment's orphaned tool containers and staging volumes on *this worker's*
    engine (DOCKER_HOST): with several engines per deployment, each is swept by its own workers,
    once a minute across them (a cache lock per engine); None when skipped."""
    engine = os.environ.get("DOCKER_HOST", "").strip() or "local"
    if not cache.add(f"{ENGINE_SWEEP_LOCK_KEY}:{engine}", "1", timeout=ENGINE_SWEEP_S):
        return None
    return remove_orphan_containers()


def _keep(stop: threading.Event) -> None:
    interval = max(1, int(settings.KEEPER_INTERVAL_S))
    while not stop.wait(interval):
        try:
            keeper_sweep_once()
            if settings.SCAN_EXECUTOR != "local":
                engine_sweep_once()
        except Exception as exc:  # the database or cache away: the next round tries again
            log.warning("keeper.sweep_failed", error=repr(exc)[:300])
        finally:
            connection.close()


def keeper_start(**_signal: object) -> None:
    """Start this process's keeper thread once (a `post_spawn` receiver)."""
    if settings.KEEPER_INTERVAL_S <= 0 or _started.is_set():
        return
    if multiprocessing.current_process().name == "MainProcess":
        # django-q2 also sends post_spawn when it runs a task inline (sync mode, tests, the
        # web process): only a cluster's worker processes keep.
        return
    _started.set()
    threading.Thread(
        target=_keep, args=(threading.Event(),), name="outpost-keeper", daemon=True
    ).start()
