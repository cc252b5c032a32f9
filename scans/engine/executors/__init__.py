"""Executors run one tool invocation (an argv list, never a shell string) in a sandbox.

`docker` runs it in a locked-down container; `local` runs it as a subprocess with resource limits
(the embedded default, and tools installed on the host). Adding an executor = one module and one
line in EXECUTORS; modules are imported only when first used, so the local executor never needs
the Docker SDK to import.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from scans.engine.runtime import Executor

EXECUTORS: dict[str, str] = {
    "local": "scans.engine.executors.local.LocalExecutor",
    "docker": "scans.engine.executors.docker.DockerExecutor",
}

# `auto` asks the Docker engine at most this often; a worker resolving an executor per step must
# not pay a 2 s ping timeout per step when no engine runs.
AUTO_DECISION_TTL_S = 30.0
DOCKER_PING_TIMEOUT_S = 2

_auto_lock = threading.Lock()
_auto_decision: tuple[float, str] | None = None  # (decided at, monotonic), executor name


def docker_reachable() -> bool:
    """True when a Docker engine (DOCKER_HOST honoured) answers a ping within 2 s."""
    try:
        import docker

        client = docker.from_env(timeout=DOCKER_PING_TIMEOUT_S)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no socket, refused, timed out, TLS misconfigured: all mean "no"
        return False


def resolve_executor_name(name: str | None = None) -> str:
    """The executor to use for `name` (default: settings.SCAN_EXECUTOR), `auto` resolved to
    `docker` when an engine answers and to `local` otherwise (decision cached ~30 s)."""
    global _auto_decision
    wanted = (name or settings.SCAN_EXECUTOR or "auto").strip().lower()
    if wanted != "auto":
        if wanted not in EXECUTORS:
            known = ", ".join(sorted({*EXECUTORS, "auto"}))
            raise ImproperlyConfigured(f"unknown executor {wanted!r} (known: {known})")
        return wanted
    with _auto_lock:
        now = time.monotonic()
        if _auto_decision is not None and now - _auto_decision[0] < AUTO_DECISION_TTL_S:
            return _auto_decision[1]
        decided = "docker" if docker_reachable() else "local"
        _auto_decision = (now, decided)
        return decided


def forget_auto_decision() -> None:
    """Drop the cached `auto` decision (tests; after the operator starts or stops Docker)."""
    global _auto_decision
    with _auto_lock:
        _auto_decision = None


def get_executor(name: str | None = None) -> Executor:
    """A ready executor: `local`, `docker`, or `auto` (settings.SCAN_EXECUTOR when name is None)."""
    resolved = resolve_executor_name(name)
    executor_class = import_string(EXECUTORS[resolved])
    executor: Executor = executor_class()
    return executor
