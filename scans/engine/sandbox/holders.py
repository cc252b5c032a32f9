"""Holder containers, started ahead of the steps that use them.

Starting a container through the Docker API is most of a sandbox's set-up time (hundreds of
milliseconds, more on a loaded machine), so each worker process keeps SCOPE_SANDBOX_SPARES
holders started, each with its link reserved (`SandboxLink.reserve`: the /30 and the worker's end)
and its resolv.conf naming that link's resolver. A step takes one and only installs its policy
and addresses (`SandboxLink.attach`); a new spare is started in the background. Holders are
removed in the background after their step too, so neither start nor removal is on a step's path.

A spare has nothing in its namespace but loopback (no link inside yet, no tool) and runs `sleep`
as the sandbox user without capabilities. Spares and holders carry `outpost.sandbox=holder`, not
the step labels the reaper sweeps by (a spare belongs to no step yet); they are started with
`auto_remove` and a `sleep` longer than any step may run (STEP_MAX_TIMEOUT_S), so one left by a
worker that died removes itself. The process removes its spares at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from docker.errors import APIError, NotFound

from scans.engine.sandbox.link import SandboxError, SandboxLink, sandbox_subnet
from scans.engine.sandbox.policy import NetworkScope

HOLDER_SLACK_S = 120
HOLDER_LABEL = "outpost.sandbox"


@dataclass
class Holder:
    container: Any
    link: SandboxLink
    pid: int
    key: tuple[str, str, str]  # image, subnet, user: what it was made with


def holder_start(client: Any, *, image: str, subnet: str, user: str) -> Holder:
    """A started holder with a reserved link (removed again if anything fails)."""
    link = SandboxLink(subnet=sandbox_subnet(subnet), scope=NetworkScope())
    link.reserve()
    container = None
    try:
        container = client.containers.create(
            image=image,
            entrypoint=["sleep"],
            command=[str(int(settings.STEP_MAX_TIMEOUT_S) + HOLDER_SLACK_S)],
            user=user,
            network_mode="none",
            dns=[link.host_address],
            dns_search=["."],
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit="16m",
            pids_limit=4,
            labels={HOLDER_LABEL: "holder"},
            auto_remove=True,
            detach=True,
        )
        container.start()
        state = client.api.inspect_container(container.id)["State"]
        pid = int(state.get("Pid") or 0)
        if not state.get("Running") or pid <= 0:
            raise SandboxError(f"the sandbox holder did not start ({state.get('Status')})")
        link.move(pid)  # down and unaddressed until a step's policy is in place
        return Holder(container, link, pid, (image, subnet, user))
    except BaseException:
        holder_remove(Holder(container, link, 0, ("", "", "")))
        raise


def holder_remove(holder: Holder) -> None:
    holder.link.close()
    if holder.container is not None:
        with contextlib.suppress(NotFound, APIError):
            holder.container.remove(force=True)


class _Spares:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ready: list[Holder] = []
        self.filling = False

    def take(self, client: Any, *, image: str, subnet: str, user: str) -> Holder:
        """A running holder made with these settings: a spare when one is ready, else one
        started now; either way a spare is (re)filled in the background."""
        key = (image, subnet, user)
        stale: list[Holder] = []
        found: Holder | None = None
        with self.lock:
            while self.ready and found is None:
                candidate = self.ready.pop()
                if candidate.key == key and _running(client, candidate):
                    found = candidate
                else:
                    stale.append(candidate)
        for holder in stale:
            holder_remove(holder)
        self.refill(client, key)
        return found or holder_start(client, image=image, subnet=subnet, user=user)

    def refill(self, client: Any, key: tuple[str, str, str]) -> None:
        wanted = int(getattr(settings, "SCOPE_SANDBOX_SPARES", 1))
        with self.lock:
            if self.filling or len(self.ready) >= wanted:
                return
            self.filling = True

        def fill() -> None:
            try:
                holder = holder_start(client, image=key[0], subnet=key[1], user=key[2])
            except Exception:  # the next step starts its own; it will say what failed
                return
            finally:
                with self.lock:
                    self.filling = False
            with self.lock:
                self.ready.append(holder)

        threading.Thread(target=fill, daemon=True, name="sandbox-spare").start()

    def clear(self) -> None:
        with self.lock:
            ready, self.ready = self.ready, []
        for holder in ready:
            holder_remove(holder)


def _running(client: Any, holder: Holder) -> bool:
    try:
        state = client.api.inspect_container(holder.container.id)["State"]
    except (NotFound, APIError):
        return False
    return bool(state.get("Running")) and int(state.get("Pid") or 0) == holder.pid


spares = _Spares()
atexit.register(spares.clear)


def holder_release(holder: Holder) -> None:
    """Remove a used holder and its link in the background (off the step's path)."""
    threading.Thread(target=holder_remove, args=(holder,), daemon=True).start()
