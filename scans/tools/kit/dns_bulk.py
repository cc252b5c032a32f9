"""Many DNS questions to one server at once: one UDP socket, a window of queries in flight,
answers matched by query id and question, retries for the ones that got no answer.

dnspython's resolver asks one question at a time and waits for it; brute-forcing a few thousand
names that way costs a round trip each. Here the window keeps the server busy instead; a
truncated answer is asked again over TCP. Names are always sub-names of a domain the caller
checked against scope: this module only asks the configured resolver, it contacts no target.
"""

from __future__ import annotations

import secrets
import select
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

NO_ANSWER = -1  # `Answer.rcode` when every attempt timed out


@dataclass
class Answer:
    """What the server said about one name: its rcode and records, as text, by type."""

    name: str
    rcode: int = NO_ANSWER
    records: dict[str, list[str]] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        """The name has records of the asked type (or a CNAME): NOERROR with answers."""
        return self.rcode == dns.rcode.NOERROR and any(self.records.values())

    @property
    def addresses(self) -> list[str]:
        return [*self.records.get("A", []), *self.records.get("AAAA", [])]

    @property
    def signature(self) -> frozenset[str]:
        """What the name points at, to compare it with a wildcard's answers."""
        return frozenset(value for values in self.records.values() for value in values)


def record_text(rdata: object, rdtype: str) -> str:
    """An answer's value as text: names without their final dot, lower-case."""
    if rdtype in {"CNAME", "NS", "PTR"}:
        return str(rdata.target).rstrip(".").lower()  # type: ignore[attr-defined]
    if rdtype == "MX":
        return str(rdata.exchange).rstrip(".").lower()  # type: ignore[attr-defined]
    if rdtype == "SRV":
        return str(rdata.target).rstrip(".").lower()  # type: ignore[attr-defined]
    return str(rdata)


def _answer_of(name: str, response: dns.message.Message) -> Answer:
    answer = Answer(name, response.rcode())
    for rrset in response.answer:
        rdtype = dns.rdatatype.to_text(rrset.rdtype)
        answer.records.setdefault(rdtype, []).extend(record_text(r, rdtype) for r in rrset)
    return answer


def resolve_many(
    names: Iterable[str],
    rdtype: str,
    *,
    server: tuple[str, int],
    window: int = 200,
    timeout_s: float = 2.0,
    tries: int = 3,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Answer]:
    """Ask `server` for `rdtype` of every name; name -> Answer (rcode NO_ANSWER when all
    `tries` went unanswered). Stops early, with what it has, when `should_stop()` says so."""
    todo: deque[tuple[str, int]] = deque((name, 0) for name in dict.fromkeys(names))
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    answers: dict[str, Answer] = {}
    pending: dict[int, tuple[str, int, float, dns.message.Message]] = {}
    qtype = dns.rdatatype.from_text(rdtype)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect(server)
        while todo or pending:
            if should_stop():
                break
            while todo and len(pending) < window:
                name, attempt = todo.popleft()
                query = dns.message.make_query(name, qtype)
                query.id = _free_id(pending)
                try:
                    sock.send(query.to_wire())
                except BlockingIOError:
                    todo.appendleft((name, attempt))
                    break
                pending[query.id] = (name, attempt, time.monotonic() + timeout_s, query)
            earliest = min((due for _, _, due, _ in pending.values()), default=time.monotonic())
            wait = max(0.0, min(earliest - time.monotonic(), 0.2))
            readable, _, _ = select.select([sock], [], [], wait)
            if readable:
                _receive(sock, pending, answers, server, timeout_s)
            now = time.monotonic()
            for query_id, (name, attempt, due, _query) in list(pending.items()):
                if due <= now:
                    del pending[query_id]
                    if attempt + 1 < tries:
                        todo.append((name, attempt + 1))
                    else:
                        answers[name] = Answer(name)
            if on_progress is not None:
                on_progress(len(answers))
    return answers


def _free_id(pending: Mapping[int, object]) -> int:
    while True:
        query_id = secrets.randbelow(65536)
        if query_id not in pending:
            return query_id


def _receive(
    sock: socket.socket,
    pending: dict[int, tuple[str, int, float, dns.message.Message]],
    answers: dict[str, Answer],
    server: tuple[str, int],
    timeout_s: float,
) -> None:
    while True:
        try:
            wire = sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionRefusedError:
            return  # an ICMP port unreachable: the pending queries time out and are retried
        if len(wire) < 2:
            continue
        query_id = int.from_bytes(wire[:2], "big")
        entry = pending.get(query_id)
        if entry is None:
            continue  # late answer to a query already retried, or not ours
        name, _attempt, _due, query = entry
        try:
            response = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            continue
        if not query.is_response(response):
            continue  # same id, another question: not the answer to this query
        del pending[query_id]
        if response.flags & dns.flags.TC:
            try:
                response = dns.query.tcp(query, server[0], port=server[1], timeout=timeout_s)
            except (OSError, dns.exception.DNSException):
                answers[name] = Answer(name)
                continue
        answers[name] = _answer_of(name, response)


def random_label(length: int = 14) -> str:
    """A label no zone has on purpose: what a wildcard answers for."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def is_under(name: str, domain: str) -> bool:
    """`name` is `domain` itself or a name below it (label-wise, not by suffix text)."""
    try:
        return dns.name.from_text(name).is_subdomain(dns.name.from_text(domain))
    except dns.exception.DNSException:
        return False
