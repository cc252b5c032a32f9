"""The holder container of a sandboxed Docker run, and the session the executor runs in.

The tool cannot start with its network already fenced (a container's namespace exists only once
it runs, and a tool that runs at once would race the set-up), so the namespace belongs to a
holder: a tiny container (`sleep`, the sandbox user, no capabilities, read-only, no network of
its own) started first. The link and the policy are installed in its namespace, its
/etc/resolv.conf names the scope resolver, and the tool container joins it
(`network_mode=container:<holder>`), the way a Kubernetes pod's containers share its pause
container's network. Holders are started ahead of their steps (scans.engine.sandbox.holders),
the first one when a worker process starts (`sandbox_prewarm`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.util
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from docker.errors import ImageNotFound

from config.deployment import DEPLOYMENT_LABEL, deployment_id
from scans.engine.executors import engine_client
from scans.engine.sandbox.holders import holder_release, spares
from scans.engine.sandbox.link import SandboxError, SandboxLink, sandbox_unsupported
from scans.engine.sandbox.policy import NetworkScope, blocked_summary
from scans.engine.sandbox.resolver import ScopeResolver

SANDBOX_USER = "65534:65534"  # nobody: tool containers and holders run as this user


@dataclass
class SandboxSession:
    """A running sandbox: the network mode the tool container joins, and what it refused."""

    network_mode: str
    link: SandboxLink
    resolver: ScopeResolver
    setup_ms: float

    def blocked(self) -> list[dict[str, object]]:
        return self.link.blocked()


@contextlib.contextmanager
def network_sandbox(
    client: Any,
    scope: NetworkScope,
    *,
    image: str,
    subnet: str,
    user: str,
    log: Callable[[str], None],
    deployment: str = "",
) -> Iterator[SandboxSession]:
    """A holder (a spare when one is ready: scans.engine.sandbox.holders) fenced to `scope`;
    yield the session; the holder and its link are removed in the background afterwards."""
    started = time.monotonic()
    holder = spares.take(client, image=image, subnet=subnet, user=user, deployment=deployment)
    resolver: ScopeResolver | None = None
    try:
        holder.link.scope = scope
        holder.link.attach(holder.pid)
        resolver = ScopeResolver(holder.link, log=log)
        yield SandboxSession(
            network_mode=f"container:{holder.container.id}",
            link=holder.link,
            resolver=resolver,
            setup_ms=(time.monotonic() - started) * 1000,
        )
    finally:
        if resolver is not None:
            resolver.close()
        holder_release(holder)


@contextlib.contextmanager
def tool_network(client: Any, invocation: Any, result: Any, *, user: str) -> Iterator[str]:
    """The network mode a tool container of `invocation` joins: its own (`invocation.network`)
    when it is not sandboxed, else a fenced holder's. What the sandbox refused and said goes on
    `result` (a ToolRun): `blocked`, `notes`, `enforcement`, `sandbox_setup_ms`."""
    if invocation.sandbox is None:
        yield invocation.network
        return
    image = holder_image()
    try:
        client.images.get(image)
    except ImageNotFound as exc:
        raise SandboxError(f"the sandbox holder image {image} is not available locally") from exc
    with network_sandbox(
        client,
        invocation.sandbox,
        image=image,
        subnet=settings.SCOPE_SANDBOX_SUBNET,
        user=user,
        log=result.notes.append,
        deployment=str(invocation.labels.get(DEPLOYMENT_LABEL, "")),
    ) as session:
        result.enforcement = "network"
        result.sandbox_setup_ms = round(session.setup_ms, 1)
        try:
            yield session.network_mode
        finally:
            with contextlib.suppress(SandboxError):
                result.blocked = session.blocked()
            result.notes.extend(blocked_summary(result.blocked))


def holder_image() -> str:
    return str(settings.SCOPE_SANDBOX_IMAGE or settings.TOOL_IMAGE_CACHE_INIT)


def sandbox_prewarm(client: Any = None, *, deployment: str | None = None) -> bool:
    """Start this process's first spare holder now, in the background, so that its first
    sandboxed step takes a ready one (a cold start is most of a set-up: a container created,
    started and inspected, the link and NAT made). False when this worker will not sandbox
    (SCOPE_ENFORCEMENT=off, the local executor, no capabilities, no engine or holder image)."""
    if str(settings.SCOPE_ENFORCEMENT).lower() == "off" or settings.SCAN_EXECUTOR == "local":
        return False
    if sandbox_unsupported():
        return False
    try:
        client = client or engine_client()
        client.images.get(holder_image())
    except Exception:  # no image, no engine: the first step says why
        return False
    key = (
        holder_image(),
        str(settings.SCOPE_SANDBOX_SUBNET),
        SANDBOX_USER,
        deployment_id() if deployment is None else deployment,
    )
    spares.refill(client, key)
    return True


def sandbox_prewarm_on_spawn(**_signal: object) -> None:
    """django-q2's `post_spawn` receiver: a cluster's worker process warms its sandbox."""
    if multiprocessing.current_process().name == "MainProcess":
        return  # a task run inline (sync mode, tests, the web process) is not a worker
    # A forked worker process ends with os._exit, after multiprocessing's finalizers but
    # without atexit: its spares are removed here (one left anyway is the reaper's).
    multiprocessing.util.Finalize(None, spares.clear, exitpriority=10)
    threading.Thread(target=_prewarm_quietly, name="sandbox-prewarm", daemon=True).start()


def _prewarm_quietly() -> None:
    try:
        sandbox_prewarm()
    except Exception:  # noqa: S110 - the first step starts its holder itself and says what failed
        pass
    finally:
        connection.close()
