"""Executors run one tool invocation (an argv list, never a shell string) in a sandbox.

`docker` runs it in a locked-down container; `local` runs it as a subprocess with resource limits
(the embedded default, and tools installed on the host). Adding an executor = one module and one
line in EXECUTORS; modules are imported only when first used, so the local executor never needs
the Docker SDK to import.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

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


# The engine `auto` looks for when no DOCKER_HOST is configured (tests point it elsewhere).
LOCAL_ENGINE_SOCKET = "/var/run/docker.sock"


def engine_client(timeout: int | None = None) -> Any:
    """A client of the configured Docker engine (DOCKER_HOST: unix, tcp with DOCKER_TLS_VERIFY and
    DOCKER_CERT_PATH, ssh through paramiko). The API session ignores the process's requests
    environment: REQUESTS_CA_BUNDLE (set by many images and distributions) would otherwise
    replace the engine's CA (DOCKER_CERT_PATH/ca.pem) and every TLS handshake would fail, and an
    HTTP(S)_PROXY is not the way to a Docker engine."""
    import docker
    from docker.constants import DEFAULT_DOCKER_API_VERSION

    # The version is asked only once the session ignores that environment.
    client = docker.from_env(
        version=DEFAULT_DOCKER_API_VERSION, **({"timeout": timeout} if timeout else {})
    )
    client.api.trust_env = False
    client.api._version = client.api._retrieve_server_version()
    return client


def docker_reachable() -> bool:
    """True when the local Docker engine (LOCAL_ENGINE_SOCKET) answers a ping within 2 s."""
    try:
        import docker

        client = docker.DockerClient(
            base_url=f"unix://{LOCAL_ENGINE_SOCKET}", timeout=DOCKER_PING_TIMEOUT_S
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no socket, refused, timed out, TLS misconfigured: all mean "no"
        return False


def resolve_executor_name(name: str | None = None) -> str:
    """The executor to use for `name` (default: settings.SCAN_EXECUTOR). `auto` is `docker`
    whenever DOCKER_HOST names an engine: one that is away or misconfigured (TLS certificates,
    ssh) fails the step with the reason instead of silently running tools on the worker. Without
    DOCKER_HOST, `auto` is `docker` when the local engine answers and `local` otherwise (the
    embedded default; decision cached ~30 s)."""
    global _auto_decision
    wanted = (name or settings.SCAN_EXECUTOR or "auto").strip().lower()
    if wanted != "auto":
        if wanted not in EXECUTORS:
            known = ", ".join(sorted({*EXECUTORS, "auto"}))
            raise ImproperlyConfigured(f"unknown executor {wanted!r} (known: {known})")
        return wanted
    if os.environ.get("DOCKER_HOST", "").strip():
        return "docker"
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
