"""Built-in tools connect through the step's scope at connect time (no namespace: they run in
the worker): a real httpx client through the guard reaches A and not B, and connects to the
address the guard checked (pinned) rather than looking the name up again; http_probe following a
redirect to a name that resolves to B refuses at connect time, recorded on the step."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scans.engine.sandbox.guard import ConnectGuard, guarded_transport
from scans.engine.sandbox.resolver import name_lookup
from scans.engine.step import step_run
from scans.models import ScanLog, ScanStep
from scans.services import scan_start
from scans.tools import tls_inspect
from targets.items import Item
from targets.scope import ScopeMatcher, TargetRow
from tests.sandbox_lab import ADDRESS_A, ADDRESS_B, ZONE, Lab
from tests.scans.conftest import StepContextFactory, hosts_scope


def guard_for(scope_lab: Lab, *items: Item, log: list[str]) -> ConnectGuard:
    matcher = ScopeMatcher([TargetRow(1, "domain", f"*.{ZONE}"), TargetRow(2, "ip", ADDRESS_A)])

    def verdict(value: str) -> Any:
        return matcher.check(Item("host", value))

    return ConnectGuard(
        items,
        lookup=name_lookup([scope_lab.nameserver]),
        name_allowed=lambda name: verdict(name).in_scope,
        address_allowed=lambda address: verdict(address).in_scope,
        is_excluded=lambda a: not verdict(a).in_scope and verdict(a).target_id is not None,
        log=log.append,
    )


def test_a_guarded_client_reaches_its_target_and_not_another_host(scope_lab: Lab) -> None:
    said: list[str] = []
    guard = guard_for(scope_lab, Item.service(ADDRESS_A, 8080), log=said)

    with httpx.Client(transport=guarded_transport(guard), timeout=5) as client:
        assert client.get(f"http://{ADDRESS_A}:8080/guarded").status_code == 200
        with pytest.raises(httpx.ConnectError, match="out of scope"):
            client.get(f"http://{ADDRESS_B}:8080/guarded")
        with pytest.raises(httpx.ConnectError, match="out of scope"):
            client.get(f"http://{ADDRESS_A}:9090/other-port")
    with httpx.Client(timeout=5) as unguarded:  # the network itself reaches B
        assert unguarded.get(f"http://{ADDRESS_B}:8080/unguarded").status_code == 200

    assert scope_lab.a.requests() == ["8080 /guarded"]
    assert scope_lab.b.requests() == ["8080 /unguarded"]
    assert {(row["address"], row["port"]) for row in guard.blocked} == {
        (ADDRESS_B, 8080), (ADDRESS_A, 9090)
    }  # fmt: skip
    assert f"connection to {ADDRESS_B}:8080 refused: not among the step's targets" in said


def test_the_guard_connects_to_the_address_it_checked(scope_lab: Lab) -> None:
    """a.lab23.test exists only in the test's zone (the guard's upstream), not in the worker's
    resolver: the request succeeds only because the connection is pinned to the checked address."""
    said: list[str] = []
    guard = guard_for(scope_lab, Item("url", f"http://a.{ZONE}:8080/"), log=said)

    with httpx.Client(transport=guarded_transport(guard), timeout=5) as client:
        answer = client.get(f"http://a.{ZONE}:8080/pinned")
        with pytest.raises(httpx.ConnectError, match=f"resolves to {ADDRESS_B}, out of scope"):
            client.get(f"http://x9.wild.{ZONE}:8080/rebound")

    assert answer.status_code == 200
    assert scope_lab.a.requests() == ["8080 /pinned"]
    assert scope_lab.b.requests() == []


@pytest.mark.django_db(transaction=True)
def test_http_probe_following_a_redirect_to_b_refuses_at_connect_time(
    scope_lab: Lab, settings: Any, user: Any, team: Any, authorize: Any, make_workflow: Any
) -> None:
    settings.SCOPE_DNS_UPSTREAM = [scope_lab.nameserver]
    authorize(f"*.{ZONE}")
    target = authorize(f"http://{ADDRESS_A}:8080/wild")
    workflow = make_workflow([{"id": "web", "type": "http_probe", "config": {"schemes": "http"}}])
    scan = scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)
    step = ScanStep.objects.get(scan=scan, node_id="web")

    step_run(step.pk)

    step.refresh_from_db()
    assert scope_lab.a.requests() == ["8080 /wild"]
    assert scope_lab.b.requests() == []
    assert step.scope_enforcement == "connect"
    assert step.blocked == [{"address": ADDRESS_B, "proto": "tcp", "port": 8080, "count": 1}]
    log = list(ScanLog.objects.filter(step=step).values_list("message", flat=True))
    assert (
        f"web: connection to x1.wild.{ZONE} ({ADDRESS_B}):8080 refused: "
        f"it resolves to {ADDRESS_B}, out of scope"
    ) in log


def test_tls_inspect_connects_only_where_the_guard_lets_it(
    scope_lab: Lab, step_context: StepContextFactory
) -> None:
    """A handshake to a destination the guard refuses never leaves the worker; one it allows
    goes to the checked address (A's port 8080 answers HTTP, so that handshake fails in TLS)."""
    said: list[str] = []
    ctx = step_context(
        items=[Item.service(ADDRESS_B, 8080), Item.service(ADDRESS_A, 8080)],
        in_scope=hosts_scope([ADDRESS_A, ADDRESS_B]),
    )
    ctx.connect_guard = guard_for(scope_lab, Item.service(ADDRESS_A, 8080), log=said)

    tls_inspect.run(ctx)

    logs = "\n".join(step_context.logs)
    assert f"{ADDRESS_B}:8080: no TLS handshake (ConnectRefused)" in logs
    assert f"{ADDRESS_A}:8080: no TLS handshake (SSLError)" in logs
    assert said == [f"connection to {ADDRESS_B}:8080 refused: not among the step's targets"]
    assert scope_lab.b.requests() == []
