"""Scope enforced by the network, tried for real: a tool container (busybox wget, the local test
image) whose step targets host A (authorized) tries to reach host B (not) in every way a tool
could — by address, by a name that resolves to B, by a wildcard name under the authorized domain,
by an HTTP redirect from A — and A on a port its items do not name. Each attempt fails, is
counted on the run, and B's request log stays empty. The same container without the sandbox
reaches B, so the test proves the enforcement, not a broken network."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from scans.engine.executors.docker import DockerExecutor
from scans.engine.runtime import ToolInvocation, ToolRun
from scans.engine.sandbox.policy import NetworkScope, network_scope
from scans.engine.sandbox.resolver import name_lookup
from targets.items import Item
from targets.scope import ScopeMatcher, TargetRow
from tests.sandbox_lab import ADDRESS_A, ADDRESS_B, ZONE, Lab

pytestmark = pytest.mark.django_db


def team_scope(scope_lab: Lab, *items: Item) -> NetworkScope:
    """The team authorizes *.lab23.test and A's address; the step's items are `items`."""
    matcher = ScopeMatcher([TargetRow(1, "domain", f"*.{ZONE}"), TargetRow(2, "ip", ADDRESS_A)])

    def verdict(value: str) -> Any:
        return matcher.check(Item("host", value))

    return network_scope(
        items,
        lookup=name_lookup([scope_lab.nameserver]),
        is_excluded=lambda a: not verdict(a).in_scope and verdict(a).target_id is not None,
        name_allowed=lambda name: verdict(name).in_scope,
        address_allowed=lambda address: verdict(address).in_scope,
        upstream=[scope_lab.nameserver],
    )


def run_script(
    client: Any, image: str, tmp_path: Path, script: str, *, scope: NetworkScope | None,
    network: str = "none",
) -> ToolRun:  # fmt: skip
    invocation = ToolInvocation(
        argv=["sh", "-c", script],
        timeout_s=60,
        workdir=tmp_path / uuid.uuid4().hex[:8],
        image=image,
        network=network,
        labels={"outpost.step": "1", "outpost.test": f"sandbox-{uuid.uuid4().hex[:8]}"},
        sandbox=scope,
    )
    return DockerExecutor(client).run(invocation)


def fetch(url: str, tag: str) -> str:
    """A busybox wget that prints TAG-ok or TAG-failed (10 s per attempt; busybox 1.35's own
    `wget -T` crashes in the static build)."""
    return f"if timeout 10 wget -q -O /dev/null {url}; then echo {tag}-ok; else echo {tag}-failed; fi\n"


def test_a_sandboxed_tool_reaches_its_target_and_nothing_else(
    sandboxed: Any, test_images: dict[str, str], scope_lab: Lab, tmp_path: Path
) -> None:
    scope = team_scope(
        scope_lab, Item.service(ADDRESS_A, 8080), Item("url", f"http://a.{ZONE}:8080/")
    )
    script = (
        fetch(f"http://{ADDRESS_A}:8080/by-address", "a")
        + fetch(f"http://a.{ZONE}:8080/by-name", "a-name")
        + fetch(f"http://{ADDRESS_B}:8080/by-address", "b")
        + fetch("http://b.other23.test:8080/by-name", "b-name")
        + fetch(f"http://x7.wild.{ZONE}:8080/wildcard", "b-wildcard")
        + fetch(f"http://{ADDRESS_A}:8080/go", "redirect")
        + fetch(f"http://{ADDRESS_A}:9090/other-port", "a-port")
    )

    run = run_script(sandboxed, test_images["busybox"], tmp_path, script, scope=scope)

    out = run.stdout.decode()
    assert run.enforcement == "network", run
    for line in ("a-ok", "a-name-ok", "b-failed", "b-name-failed", "b-wildcard-failed",
                 "redirect-failed", "a-port-failed"):  # fmt: skip
        assert line in out.split(), (line, out, run.stderr)
    assert scope_lab.b.requests() == []
    assert sorted(scope_lab.a.requests()) == ["8080 /by-address", "8080 /by-name", "8080 /go"]
    blocked = {(row["address"], row["port"]): row["count"] for row in run.blocked}
    assert blocked[(ADDRESS_B, 8080)] == 2  # by address, then the redirect
    assert (ADDRESS_A, 9090) in blocked
    notes = "\n".join(run.notes)
    assert f"2 connections to {ADDRESS_B}:8080/tcp were blocked: out of scope" in notes
    assert "DNS: b.other23.test not answered: the name is not in the team's scope" in notes
    assert f"DNS: x7.wild.{ZONE} not answered: it resolves to {ADDRESS_B}, out of scope" in notes


def test_the_same_tool_without_the_sandbox_reaches_b(
    sandboxed: Any, test_images: dict[str, str], scope_lab: Lab, tmp_path: Path
) -> None:
    script = fetch(f"http://{ADDRESS_B}:8080/unfenced", "b")

    run = run_script(
        sandboxed, test_images["busybox"], tmp_path, script, scope=None, network="host"
    )

    assert "b-ok" in run.stdout.decode().split(), (run.stdout, run.stderr)
    assert scope_lab.b.requests() == ["8080 /unfenced"]
    assert run.blocked == []


def test_a_sandbox_that_cannot_be_built_fails_the_run_instead_of_running_unfenced(
    sandboxed: Any, test_images: dict[str, str], scope_lab: Lab, tmp_path: Path, settings: Any
) -> None:
    settings.SCOPE_SANDBOX_IMAGE = "outpost-test/no-such-holder:0"
    scope = team_scope(scope_lab, Item.service(ADDRESS_A, 8080))

    run = run_script(
        sandboxed, test_images["busybox"], tmp_path, fetch(f"http://{ADDRESS_B}:8080/x", "b"),
        scope=scope, network="host",
    )  # fmt: skip

    assert run.error == (
        "the network sandbox could not be set up: the sandbox holder image "
        "outpost-test/no-such-holder:0 is not available locally"
    )
    assert run.exit_code is None and run.stdout == b""
    assert scope_lab.b.requests() == []
