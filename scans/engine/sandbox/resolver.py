"""The sandbox's DNS server, on the worker's end of the step's link (dnspython).

A tool inside the sandbox can only ask this server (its /etc/resolv.conf names it, and the
namespace policy lets DNS reach nothing else). For each A/AAAA question:

- a name that is not authorized for the team (not a host the scope covers) is REFUSED;
- an authorized name is resolved by the worker with the sandbox's upstream nameservers, and each
  address in the answer is kept only when the step may already reach it or the address is itself
  an authorized target; kept addresses are added to the namespace's allowlist *before* the answer
  is sent (so the tool's connection to them passes), the rest are dropped from the answer, and a
  name left with no address gets REFUSED (a wildcard record pointing at a third party's host).

DNS rebinding cannot widen the allowlist: what is added was checked against the scope when it
was added, whatever the name answers next. PTR questions about addresses the step may reach are
answered from upstream (scanners look their targets up; a name needs an A query to be reached),
other PTRs get NXDOMAIN; other question types (MX, TXT…) are refused. Answers carry a TTL of at
most 30 s.

UDP and TCP, with the same answer: a UDP answer larger than the query allows (512 bytes, or its
EDNS payload size) is sent truncated (TC set, without the records that do not fit), and a tool that retries
over TCP, as resolvers do, gets the whole scope-checked answer there (`answer` decides both).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.reversename
import dns.rrset

from scans.engine.sandbox.link import SandboxLink
from scans.engine.sandbox.policy import Network, PortAllowance

MAX_TTL_S = 30
UPSTREAM_TIMEOUT_S = 5.0
TCP_IDLE_S = 5.0  # a TCP client silent this long is dropped (RFC 7766 suggests seconds)
TCP_MAX_CLIENTS = 16  # connections served at once; a tool opening more waits in the backlog


def upstream_resolver(nameservers: list[str]) -> dns.resolver.Resolver:
    """A resolver asking `nameservers` ("host" or "host:port"; empty: the system's)."""
    if not nameservers:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        servers: list[str | dns.nameserver.Nameserver] = []
        for entry in nameservers:
            host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            servers.append(dns.nameserver.Do53Nameserver(host, int(port or 53)))
        resolver.nameservers = servers
    resolver.lifetime = UPSTREAM_TIMEOUT_S
    return resolver


class UpstreamFailed(Exception):
    """The upstream nameservers did not answer (SERVFAIL to the tool, logged)."""


def resolve_addresses(resolver: dns.resolver.Resolver, name: str) -> tuple[list[str], int]:
    """The A and AAAA addresses of `name` and the smallest TTL ([] when it has none)."""
    found: list[str] = []
    ttl = MAX_TTL_S
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            continue
        except dns.exception.Timeout as exc:
            raise UpstreamFailed(f"no answer from the upstream nameservers ({exc})") from exc
        if answer.rrset is not None:
            ttl = min(ttl, int(answer.rrset.ttl))
            found.extend(str(rdata) for rdata in answer)
    return found, ttl


class ScopeResolver:
    """Serves one step's sandbox on (link.host_address, 53) until `close()`."""

    def __init__(self, link: SandboxLink, *, log: Callable[[str], None]) -> None:
        self.link = link
        self.log = log
        self.upstream = upstream_resolver(link.scope.upstream)
        self.refused: list[dict[str, str]] = []  # {name, reason}, also in the step log
        self._said: set[str] = set()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._sock.bind((link.host_address, 53))
            self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._tcp.bind((link.host_address, 53))
            self._tcp.listen(TCP_MAX_CLIENTS)
        except OSError:
            self._sock.close()
            self._tcp.close()
            raise
        self._sock.settimeout(0.2)
        self._tcp.settimeout(0.2)
        self._clients = threading.BoundedSemaphore(TCP_MAX_CLIENTS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="scope-dns")
        self._thread.start()
        self._tcp_thread = threading.Thread(
            target=self._serve_tcp, daemon=True, name="scope-dns-tcp"
        )
        self._tcp_thread.start()

    def close(self) -> None:
        """Stop serving. Not waited for (the step's path): the threads see the flag within
        their 0.2 s timeouts and close their sockets themselves."""
        self._stop.set()

    def _serve(self) -> None:
        try:
            self._loop()
        finally:
            self._sock.close()

    def _serve_tcp(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    conn, _peer = self._tcp.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not self._clients.acquire(timeout=TCP_IDLE_S):
                    conn.close()
                    continue
                threading.Thread(
                    target=self._tcp_client, args=(conn,), daemon=True, name="scope-dns-conn"
                ).start()
        finally:
            self._tcp.close()

    def _tcp_client(self, conn: socket.socket) -> None:
        """Queries on one TCP connection (two-byte length, message; RFC 1035 4.2.2), answered
        in order until the client closes it, goes silent or the resolver stops."""
        try:
            conn.settimeout(TCP_IDLE_S)
            while not self._stop.is_set():
                size = _read_exactly(conn, 2)
                wire = _read_exactly(conn, int.from_bytes(size, "big")) if size else b""
                if not wire:
                    return
                try:
                    reply = self.answer(dns.message.from_wire(wire))
                except dns.exception.DNSException:
                    return  # not DNS: the connection is dropped
                conn.sendall(reply.to_wire(max_size=65535, prepend_length=True,
                                           prefer_truncation=True))  # fmt: skip
        except OSError:
            return
        finally:
            conn.close()
            self._clients.release()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
                reply = self.answer(query)
            except dns.exception.DNSException:
                continue  # not a DNS query: no answer
            try:
                # Too large for UDP: the records that fit, TC set; the tool asks again over TCP.
                self._sock.sendto(
                    reply.to_wire(max_size=_udp_size(query), prefer_truncation=True), peer
                )
            except (OSError, dns.exception.DNSException):
                continue

    def _refuse(self, query: dns.message.Message, name: str, reason: str) -> dns.message.Message:
        key = f"{name}|{reason}"
        if key not in self._said:
            self._said.add(key)
            self.refused.append({"name": name, "reason": reason})
            self.log(f"DNS: {name} not answered: {reason}")
        reply = dns.message.make_response(query)
        reply.set_rcode(dns.rcode.REFUSED)
        return reply

    def _reverse(
        self, query: dns.message.Message, qname: dns.name.Name, name: str
    ) -> dns.message.Message:
        """PTR for an address the step may reach: asked upstream (a name, not a destination: a
        connection to it needs an A query, which is checked). Scanners look every target up
        (nmap does), and a refusal makes them retry for seconds; other PTRs get NXDOMAIN."""
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.RA
        try:
            address = dns.reversename.to_address(qname)
        except (dns.exception.SyntaxError, ValueError):
            address = ""
        if not address or not (
            self.link.scope.allows(address) or self.link.scope.address_allowed(address)
        ):
            reply.set_rcode(dns.rcode.NXDOMAIN)
            return reply
        try:
            answer = self.upstream.resolve(qname, "PTR", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            reply.set_rcode(dns.rcode.NXDOMAIN)
            return reply
        except dns.exception.Timeout:
            reply.set_rcode(dns.rcode.SERVFAIL)
            return reply
        if answer.rrset is not None:
            names = [rdata.to_text() for rdata in answer]
            reply.answer.append(
                dns.rrset.from_text_list(
                    qname, min(int(answer.rrset.ttl), MAX_TTL_S), "IN", "PTR", names
                )
            )
        return reply

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        """The reply to one query (see the module docstring)."""
        if not query.question:
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.FORMERR)
            return reply
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if question.rdtype == dns.rdatatype.PTR:
            return self._reverse(query, question.name, name)
        if question.rdtype not in (dns.rdatatype.A, dns.rdatatype.AAAA):
            return self._refuse(query, name, f"{dns.rdatatype.to_text(question.rdtype)} queries "
                                "are not answered in the sandbox")  # fmt: skip
        if not self.link.scope.name_allowed(name):
            return self._refuse(query, name, "the name is not in the team's scope")
        try:
            addresses, ttl = resolve_addresses(self.upstream, name)
        except UpstreamFailed as exc:
            self.log(f"DNS: {name}: {exc}")
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.SERVFAIL)
            return reply
        version = 4 if question.rdtype == dns.rdatatype.A else 6
        wanted = [a for a in addresses if ipaddress.ip_address(a).version == version]
        kept, dropped = [], []
        for address in wanted:
            if self.link.scope.allows(address) or self.link.scope.address_allowed(address):
                kept.append(address)
            else:
                dropped.append(address)
        if dropped and not kept:
            shown = ", ".join(dropped[:5])
            return self._refuse(query, name, f"it resolves to {shown}, out of scope")
        if dropped:
            self.log(f"DNS: {name}: left out {', '.join(dropped[:5])} (out of scope)")
        fresh = [address for address in kept if not self.link.scope.allows(address)]
        hosts: list[Network] = []
        ports: list[PortAllowance] = []
        for address in fresh:
            more_hosts, more_ports = self.link.scope.learned(ipaddress.ip_address(address))
            hosts.extend(more_hosts)
            ports.extend(more_ports)
        self.link.allow(hosts, ports)  # one nft call for the whole answer
        self.link.learned.extend(fresh)
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.RA
        if not addresses and not wanted:
            return reply  # NOERROR, no data (or the name has no address of this family)
        if kept:
            reply.answer.append(
                dns.rrset.from_text_list(
                    question.name, min(ttl, MAX_TTL_S), dns.rdataclass.IN, question.rdtype, kept
                )
            )
        return reply


def _udp_size(query: dns.message.Message) -> int:
    """The largest UDP answer the query accepts: 512 bytes, or its EDNS payload size."""
    if query.edns < 0:
        return 512
    return max(512, min(int(query.payload), 4096))


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    """`size` bytes from `conn`; b"" when it closed first."""
    chunks: list[bytes] = []
    while size > 0:
        chunk = conn.recv(size)
        if not chunk:
            return b""
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def name_lookup(nameservers: list[str]) -> Callable[[str], list[str]]:
    """What the worker resolves a step's input names with (the sandbox's upstream; without one,
    the worker's own resolver as its tools would use it, /etc/hosts included); a name the
    upstream does not answer for resolves to nothing."""
    if not nameservers:
        return system_lookup
    resolver = upstream_resolver(nameservers)

    def lookup(name: str) -> list[str]:
        try:
            return resolve_addresses(resolver, name)[0]
        except UpstreamFailed:
            return []

    return lookup


def system_lookup(name: str) -> list[str]:
    """The addresses getaddrinfo gives for `name` ([] when none), in its order, without repeats."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


__all__ = ["ScopeResolver", "name_lookup", "system_lookup", "upstream_resolver"]
