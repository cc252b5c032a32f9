"""What a sandboxed step may reach, and the nftables ruleset that says so inside its namespace.

Allowances come from the step's input items, which the engine has already checked against the
team's scope: a host is all of its ports, a service its port, a URL its origin's port. Names are
resolved by the worker (never by the tool); an address a name resolves to is left out when the
team excludes it. Consecutive addresses (a CIDR target arrives as one host item per address)
are collapsed back into prefixes, so a /16 is one set element, not 65,536.

The ruleset refuses (TCP reset, ICMP administratively prohibited for the rest) rather than
silently dropping: a refused connection fails at once, so a port scan through the sandbox is not
slowed by timeouts, and each attempt is one packet in the `blocked` counters (`nft` keeps one
counter per destination address, protocol and port).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from targets.items import Item, ItemError, host_key, service_host, url_key

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
TABLE = "outpost_scope"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LINK_ICMPV6 = (
    "nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, mld-listener-report, "
    "mld2-listener-report"
)


@dataclass(frozen=True)
class PortAllowance:
    network: Network
    proto: str  # tcp | udp
    port: int


@dataclass
class NetworkScope:
    """The step's allowlist and the checks its resolver needs.

    `hosts`: prefixes reachable on every port; `ports`: (prefix, protocol, port) triples;
    `name_allowed(name)`: is this name authorized for the team (a host item in scope);
    `address_allowed(address)`: is this address itself an authorized target;
    `upstream`: the nameservers ("host" or "host:port") the worker resolves names with."""

    hosts: list[Network] = field(default_factory=list)
    ports: list[PortAllowance] = field(default_factory=list)
    name_allowed: Callable[[str], bool] = lambda name: False
    address_allowed: Callable[[str], bool] = lambda address: False
    upstream: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the worker could not resolve, etc.

    def allows(self, address: str, port: int | None = None, proto: str = "tcp") -> bool:
        """Would the namespace policy let a packet to `address` (port `port`) through?"""
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            return False
        if any(addr in network for network in self.hosts):
            return True
        return any(
            addr in allowed.network
            and (port is None or (allowed.port == port and allowed.proto == proto))
            for allowed in self.ports
        )

    @property
    def narrows_ports(self) -> bool:
        """True when every allowance names its ports (no item allowed a whole host)."""
        return not self.hosts and bool(self.ports)

    def learned(self, address: Address) -> tuple[list[Network], list[PortAllowance]]:
        """The allowances an in-scope address learned from DNS adds: the whole host when the
        step may reach whole hosts, else the step's ports on it."""
        network = ipaddress.ip_network(address)
        if not self.narrows_ports:
            return [network], []
        pairs = sorted({(p.proto, p.port) for p in self.ports})
        return [], [PortAllowance(network, proto, port) for proto, port in pairs]


def _address(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None


def item_endpoints(item: Item) -> tuple[str, list[tuple[str, int]]] | None:
    """(host, [(protocol, port)]) of an item the sandbox can reach; ports [] = all of them.
    Images and repositories are not network destinations of their own (None)."""
    try:
        if item.kind == "host":
            return host_key(item.value).name, []
        if item.kind == "service":
            host = service_host(item.value).name
            port = int(item.attrs.get("port") or item.value.rsplit(":", 1)[1].split("/")[0])
            proto = str(item.attrs.get("proto") or item.value.rsplit("/", 1)[1]).lower()
            return host, [(proto if proto in ("tcp", "udp") else "tcp", port)]
        if item.kind == "url":
            key = url_key(item.value)
            scheme, _, rest = key.origin.partition("://")
            port_text = rest[len(key.host.in_url) :].lstrip(":")  # "" when the default port
            port = int(port_text) if port_text.isdigit() else _DEFAULT_PORTS.get(scheme, 80)
            return key.host.name, [("tcp", port)]
    except (ItemError, ValueError, IndexError):
        return None
    return None


def items_endpoints(items: Iterable[Item]) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """`item_endpoints` of each item that is a network destination (images and repositories
    are not)."""
    for item in items:
        endpoint = item_endpoints(item)
        if endpoint is not None:
            yield endpoint


def network_scope(
    items: Iterable[Item],
    *,
    lookup: Callable[[str], list[str]],
    is_excluded: Callable[[str], bool],
    name_allowed: Callable[[str], bool],
    address_allowed: Callable[[str], bool],
    upstream: list[str] | None = None,
) -> NetworkScope:
    """The allowlist of a step's items. `lookup(name)` resolves a name (the worker's own
    resolver, with the sandbox's upstream); `is_excluded(address)` says the team excludes an
    address a name resolved to."""
    scope = NetworkScope(
        name_allowed=name_allowed, address_allowed=address_allowed, upstream=list(upstream or [])
    )
    whole: set[Address] = set()
    narrowed: dict[tuple[str, int], set[Address]] = {}
    for host, ports in items_endpoints(items):
        address = _address(host)
        addresses = [address] if address is not None else []
        if address is None:
            for text in lookup(host):
                resolved = _address(text)
                if resolved is None:
                    continue
                if is_excluded(str(resolved)):
                    scope.notes.append(f"{host} resolves to {resolved}, which is excluded")
                    continue
                addresses.append(resolved)
            if not addresses:
                scope.notes.append(f"{host}: no address to allow (it did not resolve)")
        for resolved in addresses:
            if not ports:
                whole.add(resolved)
            for pair in ports:
                narrowed.setdefault(pair, set()).add(resolved)
    scope.hosts = _collapsed(whole)
    for (proto, port), reached in sorted(narrowed.items()):
        for network in _collapsed(reached - whole):
            scope.ports.append(PortAllowance(network, proto, port))
    return scope


def _collapsed(addresses: Iterable[Address]) -> list[Network]:
    v4 = sorted(ipaddress.IPv4Network(a) for a in addresses if a.version == 4)
    v6 = sorted(ipaddress.IPv6Network(a) for a in addresses if a.version == 6)
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def _elements(values: list[str]) -> str:
    return f"elements = {{ {', '.join(values)} }}" if values else ""


def ruleset(scope: NetworkScope, *, resolver: str, link6: str = "") -> str:
    """The nftables ruleset for the step's namespace (`nft -f -`): loopback, replies, DNS to
    `resolver` (the worker's end of the link), IPv6 neighbour discovery on the link (with the
    worker's end `link6`, when the link has IPv6), the allowlist; every other packet is counted
    in `blocked4`/`blocked6` and refused."""
    on_link = ", ".join(["fe80::/10", "ff02::/16", *([link6] if link6 else [])])
    sets = []
    for version in (4, 6):
        kind = "ipv4_addr" if version == 4 else "ipv6_addr"
        hosts = [str(n) for n in scope.hosts if n.version == version]
        ports = [
            f"{p.network} . {p.proto} . {p.port}"
            for p in scope.ports
            if p.network.version == version
        ]
        sets.append(
            f"  set hosts{version} {{ type {kind}; flags interval; {_elements(hosts)} }}\n"
            f"  set ports{version} {{ type {kind} . inet_proto . inet_service; flags interval; "
            f"{_elements(ports)} }}\n"
            f"  set blocked{version} {{ type {kind} . inet_proto . inet_service; flags dynamic; "
            "counter; size 65535; }\n"
            f"  set blockedicmp{version} {{ type {kind}; flags dynamic; counter; size 65535; }}\n"
        )
    return (
        f"table inet {TABLE} {{\n{''.join(sets)}"
        "  chain output {\n"
        "    type filter hook output priority 0; policy drop;\n"
        "    oif lo accept\n"
        # The namespace's own addresses (IPv6 sends a reset to the tool's own address out of
        # eth0, not lo: without this, a refused IPv6 connection would wait out its SYN retries).
        "    fib daddr type local accept\n"
        "    ct state established,related accept\n"
        f"    ip daddr {resolver} meta l4proto {{ tcp, udp }} th dport 53 accept\n"
        "    ip daddr @hosts4 accept\n"
        "    ip daddr . meta l4proto . th dport @ports4 accept\n"
        "    ip6 daddr @hosts6 accept\n"
        "    ip6 daddr . meta l4proto . th dport @ports6 accept\n"
        # Neighbour discovery, router solicitations and multicast listener reports on the link
        # itself (link-local and link-scope multicast are never routed; the worker's end of the
        # link answers neighbour solicitations only). Nothing else reaches the worker's end.
        f"    ip6 daddr {{ {on_link} }} icmpv6 type {{ {_LINK_ICMPV6} }} accept\n"
        "    meta l4proto { tcp, udp } meta nfproto ipv4 "
        "add @blocked4 { ip daddr . meta l4proto . th dport }\n"
        "    meta l4proto { tcp, udp } meta nfproto ipv6 "
        "add @blocked6 { ip6 daddr . meta l4proto . th dport }\n"
        "    meta l4proto != { tcp, udp } meta nfproto ipv4 add @blockedicmp4 { ip daddr }\n"
        "    meta l4proto != { tcp, udp } meta nfproto ipv6 add @blockedicmp6 { ip6 daddr }\n"
        "    meta l4proto tcp reject with tcp reset\n"
        "    reject with icmpx admin-prohibited\n"
        "  }\n"
        "}\n"
    )


def allow_commands(hosts: list[Network], ports: list[PortAllowance]) -> str:
    """nft commands adding allowances to a running namespace's sets (what DNS taught it)."""
    lines = [f"add element inet {TABLE} hosts{n.version} {{ {n} }}" for n in hosts]
    lines += [
        f"add element inet {TABLE} ports{p.network.version} {{ {p.network} . {p.proto} . {p.port} }}"
        for p in ports
    ]
    return "\n".join(lines) + "\n"


def blocked_from(listing: dict[str, Any]) -> list[dict[str, Any]]:
    """`nft -j list table inet outpost_scope` → [{address, proto, port, count}], most first.
    ICMP and other protocols without ports have port None."""
    rows: list[dict[str, Any]] = []
    for entry in listing.get("nftables", []) or []:
        found = entry.get("set") if isinstance(entry, dict) else None
        if not found or not str(found.get("name", "")).startswith("blocked"):
            continue
        for element in found.get("elem") or []:
            elem = element.get("elem", element) if isinstance(element, dict) else {}
            value = elem.get("val")
            count = int((elem.get("counter") or {}).get("packets") or 0)
            if isinstance(value, dict) and "concat" in value:
                address, proto, port = value["concat"]
                rows.append(
                    {
                        "address": str(address),
                        "proto": str(proto),
                        "port": int(port),
                        "count": count,
                    }
                )
            elif value is not None:
                rows.append({"address": str(value), "proto": "icmp", "port": None, "count": count})
    rows = [row for row in rows if row["count"] > 0]
    rows.sort(key=lambda row: (-row["count"], row["address"], row["port"] or 0))
    return rows


def blocked_summary(rows: list[dict[str, Any]]) -> list[str]:
    """One line per blocked destination: "3 connections to 203.0.113.7:443/tcp were blocked:
    out of scope"."""
    lines = []
    for row in rows:
        count = int(str(row["count"]))
        what = "connection" if row["proto"] == "tcp" else "packet"
        where = (
            f"{row['address']}:{row['port']}/{row['proto']}"
            if row["port"] is not None
            else (f"{row['address']} ({row['proto']})")
        )
        noun, verb = (what, "was") if count == 1 else (f"{what}s", "were")
        lines.append(f"{count} {noun} to {where} {verb} blocked: out of scope")
    return lines


def touches_blocked(value: str, blocked: list[dict[str, Any]]) -> bool:
    """Whether a finding's location or an item's value (host, host:port/proto, URL) is a
    destination the sandbox refused: such a result cannot be the tool's own observation."""
    if not value or not blocked:
        return False
    host, port = "", None
    for kind in ("url", "service", "host"):
        endpoint = item_endpoints(Item(kind, value))
        if endpoint is not None:
            host, ports = endpoint
            port = ports[0][1] if ports else None
            break
    address = _address(host)
    if address is None:
        return False
    return any(
        _address(str(row["address"])) == address and (port is None or row["port"] in (port, None))
        for row in blocked
    )
