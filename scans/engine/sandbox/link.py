"""The private link of a sandboxed step: a veth pair between the worker's namespace and the
step's, addressed from SCOPE_SANDBOX_SUBNET (one /30 per step), with the step's nftables policy
installed inside before the link comes up.

Every command is an argument list run with `ip`, `nft` and `nsenter` (the namespace is entered
through /proc/<pid>/ns/net of the holder container; nothing is mounted). A /30 is reserved by
creating its host-side interface (`osb<index>`): the kernel refuses a second interface of that
name, so worker processes sharing a machine never hand out the same addresses.

The worker's side routes the link and masquerades what leaves it (`ip outpost_sandbox` and
`ip6 outpost_sandbox6` tables in the worker's namespace, created once per process), so replies
from a target come back to the worker and into the namespace.

IPv6: when the worker routes IPv6 (net.ipv6.conf.all.forwarding=1) and SCOPE_SANDBOX_SUBNET6 is
set, the link also gets a /126 of that prefix (the same slot as its /30; `nodad`, so the
addresses work at once instead of after duplicate address detection) and a default IPv6 route;
the policy's `ip6` sets hold the step's IPv6 allowances. Otherwise the link is IPv4 only and the
step's IPv6 destinations are unreachable from it (`sandbox_ipv6_unsupported` says why).
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import shutil
import subprocess
import threading
from dataclasses import dataclass, field

from django.conf import settings

from scans.engine.sandbox.policy import (
    TABLE,
    Network,
    NetworkScope,
    PortAllowance,
    allow_commands,
    blocked_from,
    ruleset,
)

IFACE_PREFIX = "osb"
NAT_TABLE = "outpost_sandbox"
NAT_TABLE6 = "outpost_sandbox6"
IPV6_FORWARDING = "/proc/sys/net/ipv6/conf/all/forwarding"
COMMAND_TIMEOUT_S = 10
_CAP_NET_ADMIN = 12
_CAP_SYS_ADMIN = 21  # setns() into the holder's namespace (nsenter)
_nat_lock = threading.Lock()
_nat_ready: set[str] = set()


class SandboxError(RuntimeError):
    """The sandbox could not be set up (the step must not run unprotected)."""


def _run(argv: list[str], *, stdin: str = "") -> str:
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise SandboxError(f"{' '.join(argv[:4])}… failed: {done.stderr.strip()[:300]}")
    return done.stdout


def sandbox_unsupported() -> str:
    """Why this worker cannot build network sandboxes ("" when it can): it needs root, or
    CAP_NET_ADMIN with CAP_SYS_ADMIN (entering a namespace), and `ip`, `nft` and `nsenter`."""
    missing = [tool for tool in ("ip", "nft", "nsenter") if shutil.which(tool) is None]
    if missing:
        return f"the worker lacks {', '.join(missing)} (packages iproute2, nftables, util-linux)"
    if os.geteuid() != 0 and not _has_capabilities(_CAP_NET_ADMIN, _CAP_SYS_ADMIN):
        return "the worker runs without root or CAP_NET_ADMIN (+ CAP_SYS_ADMIN to enter namespaces)"
    return ""


def sandbox_ipv6_unsupported() -> str:
    """Why this worker's sandbox links cannot carry IPv6 ("" when they can)."""
    if not str(getattr(settings, "SCOPE_SANDBOX_SUBNET6", "")).strip():
        return "IPv6 sandboxing is off (SCOPE_SANDBOX_SUBNET6 is empty)"
    try:
        with open(IPV6_FORWARDING, encoding="ascii") as current:
            if current.read().strip() != "1":
                return (
                    "the worker does not route IPv6 (net.ipv6.conf.all.forwarding=1 is needed "
                    "in its namespace)"
                )
    except OSError:
        return "the worker has no IPv6"
    return ""


def _has_capabilities(*bits: int) -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    effective = int(line.split()[1], 16)
                    return all(effective >> bit & 1 for bit in bits)
    except OSError:
        return False
    return False


@dataclass
class SandboxLink:
    """One step's link. `reserve()` picks the /30, `prepare(pid)` moves the inner end into the
    namespace of process `pid` behind a policy that refuses everything, `attach(pid)` adds the
    step's allowances, `close()` removes what is left."""

    subnet: Network
    scope: NetworkScope
    subnet6: Network | None = None  # SCOPE_SANDBOX_SUBNET6 when the link carries IPv6
    index: int = -1
    pid: int = 0
    learned: list[str] = field(default_factory=list)  # addresses DNS added to the allowlist
    prepared_in: int = 0  # the pid whose namespace holds the link and the empty policy
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host_iface(self) -> str:
        return f"{IFACE_PREFIX}{self.index}"

    @property
    def peer_iface(self) -> str:
        return f"osp{self.index}"

    @property
    def host_address(self) -> str:
        return str(self.subnet.network_address + self.index * 4 + 1)

    @property
    def inner_address(self) -> str:
        return str(self.subnet.network_address + self.index * 4 + 2)

    @property
    def host_address6(self) -> str:
        return str(self.subnet6.network_address + self.index * 4 + 1) if self.subnet6 else ""

    @property
    def inner_address6(self) -> str:
        return str(self.subnet6.network_address + self.index * 4 + 2) if self.subnet6 else ""

    def reserve(self, attempts: int = 20) -> None:
        """Take a free /30 of the subnet by creating its interface pair in the worker's
        namespace (EEXIST: another step holds it; try another)."""
        slots = self.subnet.num_addresses // 4
        if slots < 2:
            raise SandboxError(f"SCOPE_SANDBOX_SUBNET {self.subnet} is too small")
        last = ""
        for _ in range(attempts):
            self.index = random.randrange(1, slots)  # noqa: S311 - spreading, not secrecy
            try:
                _run(["ip", "link", "add", self.host_iface, "type", "veth", "peer", "name",
                      self.peer_iface])  # fmt: skip
                break
            except SandboxError as exc:
                last = str(exc)
        else:
            self.index = -1
            raise SandboxError(f"no free link in {self.subnet}: {last}")
        v6 = f"addr add {self.host_address6}/126 dev {self.host_iface} nodad\n"
        _run(["ip", "-batch", "-"], stdin=(
            f"addr add {self.host_address}/30 dev {self.host_iface}\n"
            + (v6 if self.subnet6 else "")
            + f"link set {self.host_iface} up\n"
        ))  # fmt: skip
        _nat_ensure(self.subnet)
        if self.subnet6 is not None:
            _nat_ensure(self.subnet6)

    def prepare(self, pid: int) -> None:
        """Ready the link in the namespace of `pid` (a holder that is not a step's yet): the
        policy with no allowances (it refuses everything but loopback and DNS to this link's
        resolver) first, then the inner end moved in, addressed, up and routed through the
        worker. A step then only adds its allowances (`attach`)."""
        self.pid = pid
        self._enter_policy(
            ruleset(NetworkScope(), resolver=self.host_address, link6=self.host_address6)
        )
        _run(["ip", "link", "set", self.peer_iface, "netns", str(pid)])
        v6 = (
            f"addr add {self.inner_address6}/126 dev eth0 nodad\n"
            f"route add default via {self.host_address6} dev eth0\n"
        )
        if self.subnet6 is not None:
            # A container without a network has IPv6 turned off in its namespace: on the link,
            # and on lo too, through which a reset the policy sends the tool is delivered.
            self._enter(["sysctl", "-q", "-w", f"net.ipv6.conf.{self.peer_iface}.disable_ipv6=0",
                         "net.ipv6.conf.lo.disable_ipv6=0"])  # fmt: skip
        self._enter(["ip", "-batch", "-"], stdin=(
            f"link set {self.peer_iface} name eth0\n"
            f"addr add {self.inner_address}/30 dev eth0\n"
            "link set lo up\n"
            "link set eth0 up\n"
            f"route add default via {self.host_address}\n"
            + (v6 if self.subnet6 else "")
        ))  # fmt: skip
        self.prepared_in = pid

    def attach(self, pid: int) -> None:
        """Fence the namespace of `pid` to `scope`: its allowances added to the policy that
        `prepare` installed (prepared now, when it was not)."""
        if self.prepared_in != pid:
            self.prepare(pid)
        self._add(self.scope.hosts, self.scope.ports)

    def allow(self, hosts: list[Network], ports: list[PortAllowance]) -> None:
        """Add allowances to the running policy (before the DNS answer that needs them leaves)."""
        if not (hosts or ports) or not self.pid:
            return
        with self._lock:
            self._add(hosts, ports)
            self.scope.hosts.extend(hosts)
            self.scope.ports.extend(ports)

    def _add(self, hosts: list[Network], ports: list[PortAllowance]) -> None:
        if hosts or ports:
            self._enter_policy(allow_commands(hosts, ports))

    def _enter(self, argv: list[str], *, stdin: str = "") -> str:
        return _run(["nsenter", f"--net=/proc/{self.pid}/ns/net", *argv], stdin=stdin)

    def _enter_policy(self, commands: str) -> None:
        self._enter(["nft", "-f", "-"], stdin=commands)

    def blocked(self) -> list[dict[str, object]]:
        """What the policy refused so far: [{address, proto, port, count}]."""
        if not self.pid:
            return []
        listing = self._enter(["nft", "-j", "list", "table", "inet", TABLE])
        return blocked_from(json.loads(listing or "{}"))

    def close(self) -> None:
        """Remove the worker's end (the inner end goes with it, or with the namespace)."""
        if self.index < 0:
            return
        subprocess.run(
            ["ip", "link", "del", self.host_iface],
            capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False,
        )  # fmt: skip
        self.index = -1


def _nat_ensure(subnet: Network) -> None:
    """Masquerade what the sandboxes of `subnet` (SCOPE_SANDBOX_SUBNET, or SCOPE_SANDBOX_SUBNET6:
    unique local addresses, which a target could not answer either) send out of the worker,
    once per process and prefix: a target answers the worker, which hands the reply back into
    the step's namespace. IPv4 forwarding must be on (the IPv6 links exist only when IPv6
    forwarding is: `sandbox_ipv6_unsupported`)."""
    key = str(subnet)
    family, table = ("ip", NAT_TABLE) if subnet.version == 4 else ("ip6", NAT_TABLE6)
    with _nat_lock:
        if key in _nat_ready:
            return
        _run(["nft", "-f", "-"], stdin=(
            f"table {family} {table} {{\n"
            "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
            "}\n"
            f"flush chain {family} {table} postrouting\n"
            f"add rule {family} {table} postrouting {family} saddr {subnet} "
            f'oifname != "{IFACE_PREFIX}*" masquerade\n'
        ))  # fmt: skip
        if subnet.version == 4:
            _ipv4_forwarding_required()
        _nat_ready.add(key)


def _ipv4_forwarding_required() -> None:
    forwarding = "/proc/sys/net/ipv4/ip_forward"
    try:
        with open(forwarding, encoding="ascii") as current:
            if current.read().strip() != "1":
                raise SandboxError(
                    "IPv4 forwarding is off in the worker's namespace "
                    "(net.ipv4.ip_forward=1 is needed to route the sandboxes)"
                )
    except OSError as exc:
        raise SandboxError(f"cannot read {forwarding}: {exc}") from exc


def sandbox_subnet6(value: str, subnet: Network) -> Network | None:
    """SCOPE_SANDBOX_SUBNET6 parsed (None when empty): an IPv6 prefix with a /126 for each /30
    of `subnet` (SCOPE_SANDBOX_SUBNET)."""
    if not value.strip():
        return None
    try:
        network = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        raise SandboxError(f"SCOPE_SANDBOX_SUBNET6 {value!r}: {exc}") from exc
    if network.version != 6 or network.num_addresses < subnet.num_addresses:
        raise SandboxError(
            f"SCOPE_SANDBOX_SUBNET6 {value!r} must be an IPv6 prefix with at least as many "
            f"addresses as SCOPE_SANDBOX_SUBNET ({subnet})"
        )
    return network


def sandbox_subnet(value: str) -> Network:
    """SCOPE_SANDBOX_SUBNET parsed (an IPv4 prefix of at least /29)."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise SandboxError(f"SCOPE_SANDBOX_SUBNET {value!r}: {exc}") from exc
    if network.version != 4 or network.prefixlen > 29:
        raise SandboxError(f"SCOPE_SANDBOX_SUBNET {value!r} must be an IPv4 prefix of /29 or wider")
    return network
