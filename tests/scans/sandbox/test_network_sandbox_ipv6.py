"""The network sandbox fences IPv6 as it fences IPv4: the lab's hosts A and B have IPv6
addresses too (unique local, on links the test creates), and a tool container whose step
targets A's IPv6 address reaches it, by address and by a name with only an AAAA record, but not
B — by address, or by a wildcard name under the authorized domain whose AAAA points at B — nor A
on a port its items do not name. Each attempt is counted on the run and B's log stays empty.
Unfenced, the same container reaches B over IPv6 (the network works; the sandbox stops it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scans.engine.sandbox.enforcement import network_enforcement
from scans.engine.sandbox.link import IPV6_FORWARDING
from targets.items import Item
from tests.sandbox_lab import ADDRESS_A6, ADDRESS_B6, ZONE, Lab
from tests.scans.sandbox.test_network_sandbox import fetch, run_script, team_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def routes_ipv6(sandboxed: Any) -> Iterator[Any]:
    """The worker's namespace routes IPv6 (as docker-compose's sysctl sets it for the worker),
    restored afterwards."""
    path = Path(IPV6_FORWARDING)
    before = path.read_text().strip()
    path.write_text("1\n")
    try:
        yield sandboxed
    finally:
        path.write_text(f"{before}\n")


def test_a_step_on_an_ipv6_target_is_fenced_when_the_worker_routes_ipv6(
    routes_ipv6: Any, settings: Any
) -> None:
    settings.SCOPE_ENFORCEMENT = "required"

    decision = network_enforcement(
        executor="docker", network="host", items=[Item.service(ADDRESS_A6, 8080)]
    )

    assert (decision.enforced, decision.reason) == (True, "")


def test_a_sandboxed_tool_reaches_its_ipv6_target_and_nothing_else(
    routes_ipv6: Any, test_images: dict[str, str], scope_lab: Lab, tmp_path: Path
) -> None:
    scope = team_scope(
        scope_lab, Item.service(ADDRESS_A6, 8080), Item("url", f"http://a6.{ZONE}:8080/")
    )
    script = (
        fetch(f"http://[{ADDRESS_A6}]:8080/by-address", "a")
        + fetch(f"http://a6.{ZONE}:8080/by-name", "a-name")
        + fetch(f"http://[{ADDRESS_B6}]:8080/by-address", "b")
        + fetch(f"http://x7.wild6.{ZONE}:8080/wildcard", "b-wildcard")
        + fetch(f"http://[{ADDRESS_A6}]:9090/other-port", "a-port")
    )

    run = run_script(routes_ipv6, test_images["busybox"], tmp_path, script, scope=scope)

    out = run.stdout.decode()
    assert run.enforcement == "network", run
    for line in ("a-ok", "a-name-ok", "b-failed", "b-wildcard-failed", "a-port-failed"):
        assert line in out.split(), (line, out, run.stderr)
    assert scope_lab.b.requests() == []
    assert sorted(scope_lab.a.requests()) == ["8080 /by-address", "8080 /by-name"]
    blocked = {(row["address"], row["port"]): row["count"] for row in run.blocked}
    assert blocked[(ADDRESS_B6, 8080)] == 1
    assert blocked[(ADDRESS_A6, 9090)] == 1
    notes = "\n".join(run.notes)
    assert f"1 connection to {ADDRESS_B6}:8080/tcp was blocked: out of scope" in notes
    assert f"DNS: x7.wild6.{ZONE} not answered: it resolves to {ADDRESS_B6}, out of scope" in notes


def test_the_same_tool_without_the_sandbox_reaches_b_over_ipv6(
    routes_ipv6: Any, test_images: dict[str, str], scope_lab: Lab, tmp_path: Path
) -> None:
    script = fetch(f"http://[{ADDRESS_B6}]:8080/unfenced", "b")

    run = run_script(
        routes_ipv6, test_images["busybox"], tmp_path, script, scope=None, network="host"
    )

    assert "b-ok" in run.stdout.decode().split(), (run.stdout, run.stderr)
    assert scope_lab.b.requests() == ["8080 /unfenced"]
