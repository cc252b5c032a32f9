"""Many DNS questions to one server at once: one UDP socket, a window of queries in flight,
answers matched by query id and question, retries for the ones that got no answer.

dnspython's resolver asks one question at a time and waits for it; brute-forcing a few thousand
names that way costs a round trip each. Here the window keeps the server busy instead; a
truncated answer is asked again over TCP. Names are always sub-names of a domain the caller
checked against scope: this module only asks the configured resolver, it contacts no target.
"""

from __future__ import annotations

import contextlib
import secrets
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import dns.exception
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
    """An answer's value as text (dnspython rdata: the TCP fallback and the tests)."""
    if rdtype in {"CNAME", "NS", "PTR", "SRV"}:
        return str(rdata.target).rstrip(".").lower()  # type: ignore[attr-defined]
    if rdtype == "MX":
        return str(rdata.exchange).rstrip(".").lower()  # type: ignore[attr-defined]
    return str(rdata)


# --- The wire format, read and written by hand -------------------------------------------------
# dnspython's Message.from_wire builds every section as rich objects (about 0.4 ms an answer
# here, most of a brute force's time); a brute force needs the rcode and the answer records of
# one question, so queries are written and answers read directly (RFC 1035 section 4).

_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
          "SRV": 33}  # fmt: skip
_TYPE_NAMES = {number: name for name, number in _TYPES.items()}


def query_wire(query_id: int, name: str, rdtype: int) -> bytes:
    """A recursive query for one name: header, question."""
    labels = b"".join(
        bytes([len(label)]) + label for label in name.rstrip(".").encode("idna").split(b".")
    )
    return (
        struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack("!HH", rdtype, 1)
    )


def _name_at(wire: bytes, offset: int) -> tuple[str, int]:
    """(the name at offset, lower-case without the final dot, the offset after it)."""
    labels: list[str] = []
    end = -1
    for _ in range(128):  # a loop of compression pointers ends here
        length = wire[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0 == 0xC0:
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | wire[offset + 1]
            continue
        labels.append(wire[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    else:
        raise ValueError("name compression loop")
    return ".".join(labels).lower(), (end if end >= 0 else offset)


def answer_of(name: str, rdtype: int, wire: bytes) -> Answer | None:
    """The Answer in a response to `name`/`rdtype`; None when it answers another question."""
    try:
        _id, flags, qdcount, ancount = struct.unpack_from("!HHHH", wire, 0)
        if qdcount != 1 or not flags & 0x8000:
            return None
        qname, offset = _name_at(wire, 12)
        qtype, _qclass = struct.unpack_from("!HH", wire, offset)
        if qname != name.rstrip(".").lower() or qtype != rdtype:
            return None
        offset += 4
        answer = Answer(name, flags & 0x000F)
        for _ in range(ancount):
            _owner, offset = _name_at(wire, offset)
            kind, _cls, _ttl, size = struct.unpack_from("!HHIH", wire, offset)
            offset += 10
            value = _rdata_text(wire, offset, kind, size)
            if value is not None:
                answer.records.setdefault(_TYPE_NAMES[kind], []).append(value)
            offset += size
        return answer
    except (IndexError, struct.error, ValueError):
        return None


def _rdata_text(wire: bytes, offset: int, kind: int, size: int) -> str | None:
    if kind == 1 and size == 4:
        return socket.inet_ntop(socket.AF_INET, wire[offset : offset + 4])
    if kind == 28 and size == 16:
        return socket.inet_ntop(socket.AF_INET6, wire[offset : offset + 16])
    if kind in (2, 5, 12):
        return _name_at(wire, offset)[0]
    if kind == 15:
        return _name_at(wire, offset + 2)[0]
    if kind == 33:
        return _name_at(wire, offset + 6)[0]
    return None


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
    pending: dict[int, tuple[str, int, float]] = {}
    qtype = _TYPES[rdtype]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        # Answers arrive in bursts of the window's size: a small receive buffer drops them, and
        # a dropped answer costs a retry after the timeout.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.connect(server)
        while todo or pending:
            if should_stop():
                break
            while todo and len(pending) < window:
                name, attempt = todo.popleft()
                query_id = _free_id(pending)
                try:
                    sock.send(query_wire(query_id, name, qtype))
                except BlockingIOError:
                    todo.appendleft((name, attempt))
                    break
                pending[query_id] = (name, attempt, time.monotonic() + timeout_s)
            earliest = min((due for _, _, due in pending.values()), default=time.monotonic())
            wait = max(0.0, min(earliest - time.monotonic(), 0.2))
            readable, _, _ = select.select([sock], [], [], wait)
            if readable:
                _receive(sock, pending, answers, server, qtype, timeout_s)
            now = time.monotonic()
            if earliest <= now:
                for query_id, (name, attempt, due) in list(pending.items()):
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
    pending: dict[int, tuple[str, int, float]],
    answers: dict[str, Answer],
    server: tuple[str, int],
    qtype: int,
    timeout_s: float,
) -> None:
    while True:
        try:
            wire = sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionRefusedError:
            return  # an ICMP port unreachable: the pending queries time out and are retried
        if len(wire) < 12:
            continue
        query_id = int.from_bytes(wire[:2], "big")
        entry = pending.get(query_id)
        if entry is None:
            continue  # late answer to a query already retried, or not ours
        name = entry[0]
        if wire[2] & 0x02:  # TC: truncated, ask again over TCP
            del pending[query_id]
            answers[name] = _over_tcp(name, qtype, server, timeout_s)
            continue
        answer = answer_of(name, qtype, wire)
        if answer is None:
            continue  # same id, another question: not the answer to this query
        del pending[query_id]
        answers[name] = answer


def _over_tcp(name: str, qtype: int, server: tuple[str, int], timeout_s: float) -> Answer:
    query = dns.message.make_query(name, dns.rdatatype.RdataType(qtype))
    try:
        response = dns.query.tcp(query, server[0], port=server[1], timeout=timeout_s)
    except (OSError, dns.exception.DNSException):
        return Answer(name)
    answer = Answer(name, response.rcode())
    for rrset in response.answer:
        kind = dns.rdatatype.to_text(rrset.rdtype)
        answer.records.setdefault(kind, []).extend(record_text(r, kind) for r in rrset)
    return answer


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
