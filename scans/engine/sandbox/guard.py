"""Connect-time scope checks for the built-in tools, which run in the worker's own process and
network: the same rule as the sandbox, applied where a socket is opened instead of in a namespace.

Every connection a built-in tool's HTTP client opens goes through `ConnectGuard.address_for`:

- an address is reachable when it is one of the step's items (on the item's port, when the item
  names one) or an authorized target itself;
- a name is reachable when it is one of the step's items or authorized for the team; it is
  resolved **once** by the guard (SCOPE_DNS_UPSTREAM), and the connection is made to the checked
  address (pinned: the HTTP client does no lookup of its own, so a second answer — DNS
  rebinding — never reaches a socket). A name the step was given is trusted with its addresses
  (it was authorized by name; addresses the team excludes are still refused); any other
  authorized name only with addresses that are authorized targets or already the step's.

What is refused is counted per destination (`blocked`, as the sandbox's counters) and logged.
The HTTP clients get the guard through httpcore's network backend (`guarded_transport`), so
redirects, keep-alive reconnects and every other connection pass the same check; TLS SNI and the
Host header keep the name. Tools with sockets of their own ask `pinned_address` for the address to
connect to: tls_inspect (each handshake), port_scan (the host it scans, on every port: a host
item allows them all), subdomains (a zone transfer from a name server), screenshot (Chromium is
told to resolve the page's host to the checked address: `--host-resolver-rules`). A nameserver a
workflow names (dns_resolve, subdomains) is a destination too: `resolver_address` lets it through
when it is one of the worker's own resolvers (SCOPE_DNS_UPSTREAM, /etc/resolv.conf), else only as
the guard lets any address through.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from collections.abc import Callable, Iterable
from typing import Any

import dns.resolver
import httpcore
import httpx
from django.conf import settings

from scans.engine.sandbox.policy import items_endpoints
from scans.engine.sandbox.resolver import name_lookup
from targets.items import Item


class ConnectRefused(httpcore.ConnectError, OSError):
    """A built-in tool tried to connect outside its step's scope (an OSError too, like any
    failed connect, for tools with sockets of their own)."""


class Unresolved(httpcore.ConnectError, OSError):
    """The guard's lookup found no address for a name."""


class ConnectGuard:
    """One step's connect-time check (see the module docstring)."""

    def __init__(
        self,
        items: Iterable[Item],
        *,
        lookup: Callable[[str], list[str]],
        name_allowed: Callable[[str], bool],
        address_allowed: Callable[[str], bool],
        is_excluded: Callable[[str], bool],
        log: Callable[[str], None],
        resolvers: Iterable[str] = (),
    ) -> None:
        self.lookup = lookup
        self.resolvers = {_canonical(address) for address in resolvers}
        self.name_allowed = name_allowed
        self.address_allowed = address_allowed
        self.is_excluded = is_excluded
        self.log = log
        self.hosts: dict[str, set[int] | None] = {}  # item host -> its ports (None: all)
        for host, ports in items_endpoints(items):
            host = _canonical(host)
            if not ports:
                self.hosts[host] = None
            elif self.hosts.get(host, set()) is not None:
                self.hosts.setdefault(host, set()).update(port for _, port in ports)  # type: ignore[union-attr]
        self.in_use = False  # a tool connects through it (the transports below, tls_inspect)
        self._resolved: dict[str, list[str]] = {}
        self._counts: dict[tuple[str, int | None], int] = {}
        self._lock = threading.Lock()

    @property
    def blocked(self) -> list[dict[str, Any]]:
        rows = [
            {"address": address, "proto": "tcp", "port": port, "count": count}
            for (address, port), count in self._counts.items()
        ]
        return sorted(rows, key=lambda row: (-row["count"], row["address"], row["port"] or 0))

    def _item_allows(self, host: str, port: int | None) -> bool:
        if host not in self.hosts:
            return False
        ports = self.hosts[host]
        return ports is None or port in ports

    def _refuse(self, host: str, address: str, port: int | None, reason: str) -> ConnectRefused:
        with self._lock:
            key = (address or host, port)
            self._counts[key] = self._counts.get(key, 0) + 1
            first = self._counts[key] == 1
        shown = f"{host} ({address})" if address and address != host else host
        where = shown if port is None else f"{shown}:{port}"
        if first:
            self.log(f"connection to {where} refused: {reason}")
        return ConnectRefused(
            f"{host if port is None else f'{host}:{port}'} is out of scope: {reason}"
        )

    def resolver_address(self, address: str, port: int) -> str:
        """A nameserver a workflow names: one of the worker's own resolvers, or an address the
        guard lets through like any other destination (ConnectRefused otherwise)."""
        if _canonical(address) in self.resolvers:
            return address
        return self.address_for(address, port)

    def address_for(
        self, host: str, port: int | None, *, lookup: Callable[[str], list[str]] | None = None
    ) -> str:
        """The address to connect to for `host`:`port` (`port` None: every port of the host,
        as a port scan connects), checked; ConnectRefused otherwise. `lookup` resolves the name
        instead of the guard's own (a tool's resolver that was itself checked); either way a
        name is resolved once per step."""
        host = _canonical(host)
        if _is_address(host):
            if self._item_allows(host, port) or (
                host not in self.hosts and self.address_allowed(host)
            ):
                return host
            raise self._refuse(host, host, port, "not among the step's targets")
        is_item = host in self.hosts
        if not is_item and not self.name_allowed(host):
            raise self._refuse(host, "", port, "the name is not in the team's scope")
        if is_item and not self._item_allows(host, port):
            why = "the port is" if port is not None else "only some of its ports are"
            raise self._refuse(host, "", port, f"{why} not among the step's targets")
        with self._lock:
            addresses = self._resolved.get(host)
        if addresses is None:
            addresses = (lookup or self.lookup)(host)
            with self._lock:
                addresses = self._resolved.setdefault(host, addresses)
        if not addresses:
            raise Unresolved(f"{host} does not resolve")
        for address in addresses:
            if self.is_excluded(address):
                continue
            if is_item or self.address_allowed(address) or self._pinned(address):
                return address
        raise self._refuse(host, addresses[0], port, f"it resolves to {addresses[0]}, out of scope")

    def _pinned(self, address: str) -> bool:
        """An address the step reaches already: an item address, or one its item names gave."""
        if address in self.hosts:
            return True
        with self._lock:
            return any(
                address in found for name, found in self._resolved.items() if name in self.hosts
            )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _canonical(host: str) -> str:
    host = host.strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, guard: ConnectGuard, inner: httpcore.NetworkBackend) -> None:
        self.guard, self.inner = guard, inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> Any:  # fmt: skip
        address = self.guard.address_for(host, port)
        return self.inner.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> Any:  # fmt: skip
        raise ConnectRefused("unix sockets are not targets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, guard: ConnectGuard, inner: httpcore.AsyncNetworkBackend) -> None:
        self.guard, self.inner = guard, inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> Any:  # fmt: skip
        address = self.guard.address_for(host, port)
        return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> Any:  # fmt: skip
        raise ConnectRefused("unix sockets are not targets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def pinned_address(
    guard: ConnectGuard | None,
    host: str,
    port: int | None,
    *,
    lookup: Callable[[str], list[str]] | None = None,
) -> str:
    """The address a tool with its own sockets connects to for `host`:`port`: the one the
    step's guard checked (ConnectRefused, an OSError, when it refuses; Unresolved when the name
    has no address), or `host` itself when the step has no guard (SCOPE_ENFORCEMENT=off)."""
    if guard is None:
        return host
    guard.in_use = True
    return guard.address_for(host, port, lookup=lookup)


def guarded_transport(guard: ConnectGuard, **options: Any) -> httpx.HTTPTransport:
    """An httpx transport (`options` as for httpx.HTTPTransport) whose every connection passes
    `guard`. httpx has no public hook for the network backend; its connection pool reads
    `_network_backend` for each new connection (httpcore 0.16 to 1.x), and the tests of the
    guard go through a real client, so a change there fails them."""
    transport = httpx.HTTPTransport(**options)
    guard.in_use = True
    pool = transport._pool
    pool._network_backend = _GuardedBackend(guard, pool._network_backend)
    return transport


def async_guarded_transport(guard: ConnectGuard, **options: Any) -> httpx.AsyncHTTPTransport:
    """`guarded_transport` for httpx.AsyncClient."""
    transport = httpx.AsyncHTTPTransport(**options)
    guard.in_use = True
    pool = transport._pool
    pool._network_backend = _AsyncGuardedBackend(guard, pool._network_backend)
    return transport


def worker_resolvers(upstream: list[str]) -> list[str]:
    """The addresses of the worker's own nameservers: SCOPE_DNS_UPSTREAM ("host" or
    "host:port") and /etc/resolv.conf's."""
    found = [
        entry.rpartition(":")[0] if entry.count(":") == 1 else entry.strip("[]")
        for entry in upstream
    ]
    with contextlib.suppress(dns.resolver.NoResolverConfiguration, OSError):
        found += [str(server) for server in dns.resolver.Resolver().nameservers]
    return found


def connect_guard_for(
    items: Iterable[Item], *, verdict: Callable[[Item], Any], log: Callable[[str], None]
) -> ConnectGuard | None:
    """The guard of a step's built-in tools (None under SCOPE_ENFORCEMENT=off). `verdict` is the
    team's scope matcher (targets.scope.ScopeMatcher.check)."""
    if str(settings.SCOPE_ENFORCEMENT).lower() == "off":
        return None

    def is_excluded(address: str) -> bool:
        found = verdict(Item("host", address))
        return not found.in_scope and found.target_id is not None

    upstream = list(settings.SCOPE_DNS_UPSTREAM)
    return ConnectGuard(
        items,
        lookup=name_lookup(upstream),
        resolvers=worker_resolvers(upstream),
        name_allowed=lambda name: bool(verdict(Item("host", name)).in_scope),
        address_allowed=lambda address: bool(verdict(Item("host", address)).in_scope),
        is_excluded=is_excluded,
        log=log,
    )


def connect_guard_record(runs: list[Any], guard: ConnectGuard) -> None:
    """Note on a built-in step's runs that their connections were checked, and what was refused
    (on the last run: the guard counts for the whole step). Tools that opened no client through
    the guard (port_scan's own sockets, DNS) are not said to be checked."""
    if not guard.in_use:
        return
    for run in runs:
        if not run.enforcement:
            run.enforcement = "connect"
    if runs and guard.blocked:
        runs[-1].blocked = [*runs[-1].blocked, *guard.blocked]
