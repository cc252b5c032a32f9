"""SCOPE_ENFORCEMENT: whether a tool step runs in a network sandbox, and why not when it does not.

- `off`: never (the step log says so);
- `auto` (default): when the tool has a network and the worker can build sandboxes (the Docker
  executor, root or CAP_NET_ADMIN, `ip`/`nft`/`nsenter`); otherwise the step runs as before and its
  log and its runs say why enforcement is off;
- `required`: a tool that would run with a network but without a sandbox is refused (the step
  fails with the reason) — for installations where scope is a legal line.

Tools with network mode `none` (they read mounted files) need no sandbox, nor do steps whose items
are not network destinations (images, repositories: the tool's network is for its downloads).

A tool granted raw sockets (masscan: CAP_NET_RAW) cannot be fenced: the packets it writes to a
packet socket leave through the link below the namespace's nftables output hook, so the
allowlist would never see them. Such a run is not sandboxed (under `auto` the step log says
why; under `required` it is refused); its targets are still the runner's re-parsed, scope-checked
addresses only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from scans.engine.sandbox.link import sandbox_ipv6_unsupported, sandbox_unsupported
from scans.engine.sandbox.policy import item_endpoints, items_endpoints
from targets.items import Item

MODES = ("off", "auto", "required")


class EnforcementUnavailable(Exception):
    """SCOPE_ENFORCEMENT=required and this run cannot be sandboxed."""


@dataclass(frozen=True)
class Enforcement:
    enforced: bool
    reason: str  # why not, when not enforced ("" for tools without a network)


def network_enforcement(
    *, executor: str, network: str, items: Iterable[Item] = (), raw_packets: bool = False
) -> Enforcement:
    """Whether a tool run with `executor` and Docker network mode `network` on `items` is
    sandboxed (`raw_packets`: the tool is granted CAP_NET_RAW). Raises EnforcementUnavailable
    under SCOPE_ENFORCEMENT=required when it cannot be."""
    mode = str(getattr(settings, "SCOPE_ENFORCEMENT", "auto")).lower()
    if executor == "docker" and network == "none":
        return Enforcement(False, "")
    if mode == "off":
        return Enforcement(False, "scope enforcement is off (SCOPE_ENFORCEMENT=off)")
    items = list(items)
    if not any(item_endpoints(item) for item in items):
        # Images and repositories are not network destinations: such a tool's network is for
        # its own downloads (Trivy's database, a registry), which a target allowlist would cut.
        return Enforcement(False, "")
    loopback = _loopback_hosts(items)
    if executor != "docker":
        why = (
            f"the {executor} executor runs tools in the worker's own network "
            "(network-level enforcement needs the Docker executor)"
        )
    elif raw_packets:
        why = (
            "the tool sends raw packets (CAP_NET_RAW), which pass below the sandbox's "
            "nftables output hook"
        )
    elif loopback:
        # Inside a sandbox 127.0.0.1 is the sandbox's own loopback, not the worker's: a scan of
        # the worker itself cannot go through one.
        why = f"the targets include the worker's own loopback ({loopback}), which a sandbox cannot reach"
    else:
        why = sandbox_unsupported()
        ipv6 = _ipv6_host(items)
        if not why and ipv6 and (no_ipv6 := sandbox_ipv6_unsupported()):
            why = f"the targets include an IPv6 address ({ipv6}) and {no_ipv6}"
    if not why:
        return Enforcement(True, "")
    if mode == "required":
        raise EnforcementUnavailable(
            f"refused: SCOPE_ENFORCEMENT=required and the network sandbox is unavailable: {why}"
        )
    return Enforcement(False, f"scope enforcement is off: {why}")


def _loopback_hosts(items: Iterable[Item]) -> str:
    """The first loopback host among the items ("" when none)."""
    for host, _ in items_endpoints(items):
        if host == "localhost" or host.endswith(".localhost"):
            return host
        try:
            if ipaddress.ip_address(host).is_loopback:
                return host
        except ValueError:
            continue
    return ""


def _ipv6_host(items: Iterable[Item]) -> str:
    """The first IPv6 address among the items ("" when none)."""
    for host, _ in items_endpoints(items):
        try:
            if ipaddress.ip_address(host).version == 6:
                return host
        except ValueError:
            continue
    return ""
