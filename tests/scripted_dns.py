"""A DNS server a test controls (dnspython, UDP on 127.0.0.1, a free port): each (name, type) has
a list of answers given in turn — the first question gets the first, the next the second, the
last one repeats — which is what DNS rebinding looks like to a client: a first answer in scope,
a second one out. TTL 0, so no client may keep an answer. A name it has no records for is
NXDOMAIN; a known name without records of the type asked is an empty NOERROR."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

Script = dict[tuple[str, str], list[list[str]]]


class ScriptedDNS:
    def __init__(self, script: Script) -> None:
        self.script = {
            (name.lower(), rdtype.upper()): answers for (name, rdtype), answers in script.items()
        }
        self.asked: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="scripted-dns")
        self._thread.start()

    def times_asked(self, name: str, rdtype: str = "A") -> int:
        return self.asked.count((name.lower(), rdtype.upper()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
                query = dns.message.from_wire(wire)
            except (TimeoutError, dns.exception.DNSException):
                continue
            except OSError:
                return
            self._sock.sendto(self._answer(query).to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.RA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.asked.append((name, rdtype))
        if not any(known == name for known, _ in self.script):
            reply.set_rcode(dns.rcode.NXDOMAIN)
            return reply
        answers = self.script.get((name, rdtype))
        if answers:
            turn = min(self.asked.count((name, rdtype)), len(answers)) - 1
            values = [f"{v}." if rdtype in ("NS", "CNAME") else v for v in answers[turn]]
            reply.answer.append(dns.rrset.from_text_list(question.name, 0, "IN", rdtype, values))
        return reply


@pytest.fixture
def scripted_dns() -> Iterator[type[ScriptedDNS]]:
    """`scripted_dns(script)` starts a server; every one started is stopped afterwards."""
    started: list[ScriptedDNS] = []

    class Started(ScriptedDNS):
        def __init__(self, script: Script) -> None:
            super().__init__(script)
            started.append(self)

    yield Started
    for server in started:
        server.close()
