"""The private link of a sandboxed step: a veth pair between the worker's namespace and the
step's, addressed from SCOPE_SANDBOX_SUBNET (one /30 per step), with the step's nftables policy
installed inside before the link comes up.

Every command is an argument list run with `ip`, `nft` and `nsenter` (the namespace is entered
through /proc/<pid>/ns/net of the holder container; nothing is mounted). A /30 is reserved by
creating its host-side interface (`osb<index>`): the kernel refuses a second interface of that
name, so worker processes sharing a machine never hand out the same addresses.

The worker's side routes the link and masquerades what leaves it (one `ip outpost_sandbox`
table in the worker's namespace, created once per process), so replies from a target come back
to the worker and into the namespace. IPv4 only: the link has no IPv6 address, so IPv6
destinations are unreachable from the sandbox (docs/scope-enforcement.md).
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
    """One step's link. `reserve()` picks the /30, `attach(pid)` moves the inner end into the
    namespace of process `pid` with the policy, `close()` removes what is left."""

    subnet: Network
    scope: NetworkScope
    index: int = -1
    pid: int = 0
    learned: list[str] = field(default_factory=list)  # addresses DNS added to the allowlist
    moved_to: int = 0  # the pid whose namespace holds the inner end already
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
        _run(["ip", "-batch", "-"], stdin=(
            f"addr add {self.host_address}/30 dev {self.host_iface}\n"
            f"link set {self.host_iface} up\n"
        ))  # fmt: skip
        _nat_ensure(self.subnet)

    def move(self, pid: int) -> None:
        """Move the link's inner end (down, unaddressed) into the namespace of `pid`."""
        _run(["ip", "link", "set", self.peer_iface, "netns", str(pid)])
        self.moved_to = pid

    def attach(self, pid: int) -> None:
        """Install the policy in the namespace of `pid`, then move the link's inner end there
        (unless `move` did), address it and route through the worker. The policy is in place
        before the link is up."""
        self.pid = pid
        enter = ["nsenter", f"--net=/proc/{pid}/ns/net"]
        _run([*enter, "nft", "-f", "-"], stdin=ruleset(self.scope, resolver=self.host_address))
        if self.moved_to != pid:
            self.move(pid)
        _run([*enter, "ip", "-batch", "-"], stdin=(
            f"link set {self.peer_iface} name eth0\n"
            f"addr add {self.inner_address}/30 dev eth0\n"
            "link set lo up\n"
            "link set eth0 up\n"
            f"route add default via {self.host_address}\n"
        ))  # fmt: skip

    def allow(self, hosts: list[Network], ports: list[PortAllowance]) -> None:
        """Add allowances to the running policy (before the DNS answer that needs them leaves)."""
        if not (hosts or ports) or not self.pid:
            return
        with self._lock:
            _run(["nsenter", f"--net=/proc/{self.pid}/ns/net", "nft", "-f", "-"],
                 stdin=allow_commands(hosts, ports))  # fmt: skip
            self.scope.hosts.extend(hosts)
            self.scope.ports.extend(ports)

    def blocked(self) -> list[dict[str, object]]:
        """What the policy refused so far: [{address, proto, port, count}]."""
        if not self.pid:
            return []
        listing = _run(
            [
                "nsenter",
                f"--net=/proc/{self.pid}/ns/net",
                "nft",
                "-j",
                "list",
                "table",
                "inet",
                TABLE,
            ]
        )
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
    """Masquerade what the sandboxes of `subnet` send out of the worker (once per process): a
    target answers the worker, which hands the reply back into the step's namespace."""
    key = str(subnet)
    with _nat_lock:
        if key in _nat_ready:
            return
        _run(["nft", "-f", "-"], stdin=(
            f"table ip {NAT_TABLE} {{\n"
            "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
            "}\n"
            f"flush chain ip {NAT_TABLE} postrouting\n"
            f"add rule ip {NAT_TABLE} postrouting ip saddr {subnet} "
            f'oifname != "{IFACE_PREFIX}*" masquerade\n'
        ))  # fmt: skip
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
        _nat_ready.add(key)


def sandbox_subnet(value: str) -> Network:
    """SCOPE_SANDBOX_SUBNET parsed (an IPv4 prefix of at least /29)."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise SandboxError(f"SCOPE_SANDBOX_SUBNET {value!r}: {exc}") from exc
    if network.version != 4 or network.prefixlen > 29:
        raise SandboxError(f"SCOPE_SANDBOX_SUBNET {value!r} must be an IPv4 prefix of /29 or wider")
    return network
