"""Holder containers, started ahead of the steps that use them.

Starting a container through the Docker API is most of a sandbox's set-up time (hundreds of
milliseconds, more on a loaded machine), so each worker process keeps SCOPE_SANDBOX_SPARES
holders started, each with its link ready (`SandboxLink.prepare`: the /30, the refuse-everything
policy, the link up and routed) and its resolv.conf naming that link's resolver. A step takes
one and only adds its allowances (`SandboxLink.attach`, one `nft` call); a new spare is started
in the background. Holders are removed in the background after their step too, so neither start
nor removal is on a step's path. A worker process starts its first spare when it starts
(`sandbox_prewarm`, scans.engine.sandbox.container), so its first step does not pay for it either.

A spare's namespace refuses everything but loopback and DNS to a resolver that is not listening
yet; it runs `sleep` as the sandbox user without capabilities. Holders carry
`outpost.sandbox=holder`, the deployment's label (config.deployment) and their owner process
(`outpost.sandbox.owner`: boot id, pid namespace, pid and start time). A holder is in use for as
long as the process that started it lives, so the reaper removes a holder of its own deployment
whose owner is gone (a worker that died: `remove_orphan_holders`), and never another
deployment's, nor one whose owner it cannot see (another machine or pid namespace: that
machine's workers sweep it). Holders are also started with `auto_remove` and a `sleep` longer
than any step may run (STEP_MAX_TIMEOUT_S), so one nobody sweeps removes itself. The process
removes its spares at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import requests
from django.conf import settings
from docker.errors import APIError, NotFound

from config.deployment import DEPLOYMENT_LABEL
from scans.engine.sandbox.link import (
    SandboxError,
    SandboxLink,
    sandbox_ipv6_unsupported,
    sandbox_subnet,
    sandbox_subnet6,
)
from scans.engine.sandbox.policy import NetworkScope

HOLDER_SLACK_S = 120
HOLDER_LABEL = "outpost.sandbox"
OWNER_LABEL = "outpost.sandbox.owner"
FILL_WAIT_S = 5.0  # a step waits this long for a spare being started rather than start another

HolderKey = tuple[str, str, str, str]  # image, subnet, user, deployment


@dataclass
class Holder:
    container: Any
    link: SandboxLink
    pid: int
    key: HolderKey  # what it was made with


@cache
def holder_owner() -> str:
    """This process, as the owner label says it: "<boot id>:<pid namespace>:<pid>:<start time>"
    (the start time tells a reused pid from the process that died)."""
    return ":".join((_boot_id(), _pid_namespace(), str(os.getpid()), _start_time(os.getpid())))


def owner_alive(owner: str) -> bool | None:
    """Whether the process an owner label names still runs; None when this process cannot tell
    (another machine or pid namespace, or no label)."""
    boot, namespace, pid, started = [*owner.split(":"), "", "", "", ""][:4]
    if not (boot and started and pid.isdigit()):
        return None
    if boot != _boot_id() or namespace != _pid_namespace():
        return None
    return _start_time(int(pid)) == started


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as found:
            return found.read().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot); "" when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    return fields[19] if len(fields) > 19 else ""


def holder_labels(deployment: str) -> dict[str, str]:
    return {
        HOLDER_LABEL: "holder",
        OWNER_LABEL: holder_owner(),
        **({DEPLOYMENT_LABEL: deployment} if deployment else {}),
    }


def holder_start(
    client: Any, *, image: str, subnet: str, user: str, deployment: str = ""
) -> Holder:
    """A started holder with its link ready (removed again if anything fails)."""
    network = sandbox_subnet(subnet)
    link = SandboxLink(subnet=network, scope=NetworkScope())
    if not sandbox_ipv6_unsupported():
        link.subnet6 = sandbox_subnet6(str(settings.SCOPE_SANDBOX_SUBNET6), network)
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
            labels=holder_labels(deployment),
            auto_remove=True,
            detach=True,
        )
        container.start()
        state = client.api.inspect_container(container.id)["State"]
        pid = int(state.get("Pid") or 0)
        if not state.get("Running") or pid <= 0:
            raise SandboxError(f"the sandbox holder did not start ({state.get('Status')})")
        link.prepare(pid)  # refusing everything until a step's allowances are added
        return Holder(container, link, pid, (image, subnet, user, deployment))
    except BaseException:
        holder_remove(Holder(container, link, 0, ("", "", "", "")))
        raise


def holder_remove(holder: Holder) -> None:
    """Remove a holder and its link. An engine too slow to answer leaves the holder to its own
    `sleep` and the reaper (this runs in the background, where nobody could handle it)."""
    holder.link.close()
    if holder.container is not None:
        with contextlib.suppress(NotFound, APIError, requests.RequestException):
            holder.container.remove(force=True)


class _Spares:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.ready: list[Holder] = []
        self.filling = False

    def take(
        self, client: Any, *, image: str, subnet: str, user: str, deployment: str = ""
    ) -> Holder:
        """A running holder made with these settings: a spare when one is ready (or about to
        be: one being started is waited for, up to FILL_WAIT_S), else one started now; either
        way a spare is (re)filled in the background."""
        key = (image, subnet, user, deployment)
        stale: list[Holder] = []
        found: Holder | None = None
        deadline = time.monotonic() + FILL_WAIT_S
        with self.lock:
            while found is None:
                while self.ready and found is None:
                    candidate = self.ready.pop()
                    if _fits(candidate, key) and _running(client, candidate):
                        found = candidate
                    else:
                        stale.append(candidate)
                left = deadline - time.monotonic()
                if found is not None or not self.filling or left <= 0:
                    break
                self.lock.wait(left)
        for holder in stale:
            holder_remove(holder)
        self.refill(client, key)
        return found or holder_start(
            client, image=image, subnet=subnet, user=user, deployment=deployment
        )

    def refill(self, client: Any, key: HolderKey) -> None:
        wanted = int(getattr(settings, "SCOPE_SANDBOX_SPARES", 1))
        with self.lock:
            if self.filling or len(self.ready) >= wanted:
                return
            self.filling = True

        def fill() -> None:
            holder: Holder | None = None
            try:
                holder = holder_start(
                    client, image=key[0], subnet=key[1], user=key[2], deployment=key[3]
                )
            except Exception:  # noqa: S110 - the next step starts its own; it will say what failed
                pass
            finally:
                with self.lock:
                    self.filling = False
                    if holder is not None:
                        self.ready.append(holder)
                    self.lock.notify_all()

        threading.Thread(target=fill, daemon=True, name="sandbox-spare").start()

    def clear(self) -> None:
        with self.lock:
            ready, self.ready = self.ready, []
        for holder in ready:
            holder_remove(holder)


def _fits(holder: Holder, key: HolderKey) -> bool:
    """Made with these settings, and with IPv6 on its link exactly when the worker routes it
    now (forwarding may have been turned on or off since the spare was started)."""
    return holder.key == key and (holder.link.subnet6 is not None) == (
        not sandbox_ipv6_unsupported()
    )


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


def remove_orphan_holders(client: Any, *, deployment: str, min_age_s: float = 0) -> int:
    """Remove the holders of `deployment` whose owner process is gone (a worker that died with
    its spares or a step running); their links go with their namespaces. Holders of other
    deployments, without a deployment, younger than `min_age_s`, or whose owner this process
    cannot see are left alone. Returns how many were removed."""
    if not deployment:
        raise ValueError(
            "remove_orphan_holders needs the deployment id whose holders it may remove"
        )
    wanted = [f"{HOLDER_LABEL}=holder", f"{DEPLOYMENT_LABEL}={deployment}"]
    now = time.time()
    removed = 0
    for summary in client.api.containers(all=True, filters={"label": wanted}):
        labels = summary.get("Labels") or {}
        if labels.get(DEPLOYMENT_LABEL) != deployment:
            continue  # never trust a filter with another deployment's sandbox
        if now - float(summary.get("Created") or 0) < min_age_s:
            continue
        if owner_alive(str(labels.get(OWNER_LABEL, ""))) is not False:
            continue
        try:
            client.api.remove_container(summary["Id"], force=True)
            removed += 1
        except NotFound:
            pass  # removed meanwhile (auto_remove, or another sweep)
    return removed
