"""The sandbox's resolver answers over TCP too, with the same scope-checked answer: a name with
more in-scope addresses than a 512-byte UDP answer holds gets a truncated UDP answer (TC set),
and a tool that asks again over TCP (`dig +tcp`, or dig's own retry) gets every in-scope
address and never the out-of-scope one. dig runs in the sandbox's network namespace, under its
nftables policy, as a tool there would."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from scans.engine.executors.docker import SANDBOX_USER
from scans.engine.sandbox.container import SandboxSession, network_sandbox
from scans.engine.sandbox.policy import network_scope
from scans.engine.sandbox.resolver import name_lookup
from targets.items import Item
from targets.scope import ScopeMatcher, TargetRow
from tests.sandbox_lab import ADDRESS_A, ADDRESS_B, MANY, MANY_ADDRESSES, ZONE, Lab


@pytest.fixture
def sandbox(
    sandboxed: Any, test_images: dict[str, str], scope_lab: Lab, settings: Any
) -> Iterator[tuple[SandboxSession, list[str]]]:
    """A sandbox fenced to A; the team authorizes *.lab23.test and A's /24 (not B)."""
    matcher = ScopeMatcher(
        [TargetRow(1, "domain", f"*.{ZONE}"), TargetRow(2, "cidr", "198.19.231.0/24")]
    )
    scope = network_scope(
        [Item("host", ADDRESS_A)],
        lookup=name_lookup([scope_lab.nameserver]),
        is_excluded=lambda address: False,
        name_allowed=lambda name: matcher.check(Item("host", name)).in_scope,
        address_allowed=lambda address: matcher.check(Item("host", address)).in_scope,
        upstream=[scope_lab.nameserver],
    )
    said: list[str] = []
    with network_sandbox(
        sandboxed, scope, image=test_images["busybox"], subnet=settings.SCOPE_SANDBOX_SUBNET,
        user=SANDBOX_USER, log=said.append,
    ) as session:  # fmt: skip
        yield session, said


def dig(session: SandboxSession, *options: str) -> str:
    """dig in the sandbox's network namespace, asking its resolver for MANY's addresses."""
    done = subprocess.run(
        ["nsenter", f"--net=/proc/{session.link.pid}/ns/net", "dig", "+time=15", "+tries=1",
         f"@{session.link.host_address}", MANY, "A", *options],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def addresses(answer: str) -> list[str]:
    return sorted(
        line.split()[-1] for line in answer.splitlines() if line and not line.startswith(";")
    )


def test_a_large_answer_over_tcp_is_the_whole_scope_checked_answer(sandbox: Any) -> None:
    session, said = sandbox

    over_tcp = dig(session, "+tcp", "+noall", "+answer")

    assert addresses(over_tcp) == sorted(MANY_ADDRESSES)
    assert ADDRESS_B not in over_tcp
    assert f"DNS: {MANY}: left out {ADDRESS_B} (out of scope)" in said
    assert sorted(session.link.learned) == sorted(MANY_ADDRESSES)


def test_udp_says_truncated_and_a_tool_retrying_over_tcp_gets_the_same_answer(
    sandbox: Any,
) -> None:
    session, _said = sandbox

    truncated = dig(session, "+notcp", "+ignore", "+noedns")
    retried = dig(session, "+notcp", "+noedns", "+noall", "+answer")

    assert "flags: qr tc" in truncated
    assert "ANSWER: 0" in truncated  # the whole record set did not fit: none of it is sent
    assert addresses(retried) == sorted(MANY_ADDRESSES)
