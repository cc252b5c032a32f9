"""Connect-time scope checks of the built-in tools with sockets of their own (port_scan,
subdomains' zone transfer, screenshot, and the nameservers dns_resolve and subdomains are told to
ask). Names are resolved once, by the step's guard, and the tool connects to that checked
address: a local DNS server the test controls answers a name first with A (in scope), then with
B (out: DNS rebinding), and B is never connected to; a name whose answer is out of scope is not
connected to at all. The lab hosts count the TCP connections opened to them (SYNs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scans.engine.sandbox.guard import ConnectGuard
from scans.engine.sandbox.resolver import name_lookup
from scans.engine.step import step_run
from scans.models import ScanLog, ScanStep
from scans.services import scan_start
from scans.tools import dns_resolve, screenshot
from targets.items import Item
from targets.scope import ScopeMatcher, TargetRow
from tests.sandbox_lab import ADDRESS_A, ADDRESS_B, ZONE, Lab
from tests.scans.conftest import StepContextFactory, hosts_scope
from tests.scripted_dns import ScriptedDNS

REBOUND = f"r.{ZONE}"


def run_node(
    node: dict[str, Any], target: Any, *, user: Any, team: Any, make_workflow: Any
) -> ScanStep:
    """One step of a real scan, run by the engine (its guard made from the team's scope)."""
    workflow = make_workflow([{"id": "node", **node}])
    scan = scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)
    step = ScanStep.objects.get(scan=scan, node_id="node")
    step_run(step.pk)
    step.refresh_from_db()
    return step


def step_log(step: ScanStep) -> list[str]:
    return list(ScanLog.objects.filter(step=step).values_list("message", flat=True))


@pytest.mark.django_db(transaction=True)
def test_port_scan_scans_the_address_the_guard_checked_not_a_rebound_answer(
    scope_lab: Lab, scripted_dns: type[ScriptedDNS], settings: Any, user: Any, team: Any,
    authorize: Callable[..., Any], make_workflow: Any,
) -> None:  # fmt: skip
    dns = scripted_dns({(REBOUND, "A"): [[ADDRESS_A], [ADDRESS_B]]})
    settings.SCOPE_DNS_UPSTREAM = [dns.address]
    target = authorize(REBOUND)

    step = run_node(
        {"type": "port_scan", "config": {"ports": "8080,9090"}}, target,
        user=user, team=team, make_workflow=make_workflow,
    )  # fmt: skip

    assert step.status == "completed", step.error
    assert step.scope_enforcement == "connect"
    assert dns.times_asked(REBOUND) == 1  # resolved once, by the guard
    assert scope_lab.a.connections() == 2  # 8080 and 9090
    assert scope_lab.b.connections() == 0
    assert f"{REBOUND}: 2 open, 0 closed, 0 without answer, 0 unreachable of 2 scanned" in " ".join(
        step_log(step)
    )


@pytest.mark.django_db(transaction=True)
def test_port_scan_does_not_connect_to_a_name_whose_answer_is_out_of_scope(
    scope_lab: Lab, scripted_dns: type[ScriptedDNS], settings: Any, user: Any, team: Any,
    authorize: Callable[..., Any], make_workflow: Any,
) -> None:  # fmt: skip
    dns = scripted_dns({(REBOUND, "A"): [[ADDRESS_B], [ADDRESS_A]]})
    settings.SCOPE_DNS_UPSTREAM = [dns.address]
    target = authorize(REBOUND)
    authorize(ADDRESS_B, excluded=True)

    step = run_node(
        {"type": "port_scan", "config": {"ports": "8080,9090"}}, target,
        user=user, team=team, make_workflow=make_workflow,
    )  # fmt: skip

    assert scope_lab.b.connections() == 0 and scope_lab.a.connections() == 0
    assert step.blocked == [{"address": ADDRESS_B, "proto": "tcp", "port": None, "count": 1}]
    assert (
        f"node: connection to {REBOUND} ({ADDRESS_B}) refused: it resolves to {ADDRESS_B}, "
        "out of scope"
    ) in step_log(step)


@pytest.mark.django_db(transaction=True)
def test_a_zone_transfer_goes_to_the_name_servers_checked_address(
    scope_lab: Lab, scripted_dns: type[ScriptedDNS], settings: Any, user: Any, team: Any,
    authorize: Callable[..., Any], make_workflow: Any,
) -> None:  # fmt: skip
    """The zone's name server ns.lab23.test is authorized by the wildcard; its address is asked
    once (A), and a later answer (B) is never connected to. The transfer itself fails: A's port
    8080 speaks HTTP, which is enough to see where the connection went."""
    dns = scripted_dns({
        (ZONE, "NS"): [[f"ns.{ZONE}"]],
        (f"ns.{ZONE}", "A"): [[ADDRESS_A], [ADDRESS_B]],
    })  # fmt: skip
    settings.SCOPE_DNS_UPSTREAM = [dns.address]
    target = authorize(ZONE)
    authorize(f"*.{ZONE}")
    authorize(ADDRESS_A)
    config = {"nameserver": dns.address, "zone_transfer_port": 8080, "wordlist": "none",
              "srv_records": False, "permutations": 0, "passive": False}  # fmt: skip

    step = run_node(
        {"type": "subdomains", "config": config}, target,
        user=user, team=team, make_workflow=make_workflow,
    )  # fmt: skip

    assert step.status == "completed", step.error
    assert step.scope_enforcement == "connect"
    assert scope_lab.a.connections() == 1
    assert scope_lab.b.connections() == 0


def guard(nameserver: str, *items: Item, log: list[str]) -> ConnectGuard:
    """The team authorizes *.lab23.test and A; B is excluded."""
    matcher = ScopeMatcher([
        TargetRow(1, "domain", f"*.{ZONE}"), TargetRow(2, "ip", ADDRESS_A),
        TargetRow(3, "ip", ADDRESS_B, excluded=True),
    ])  # fmt: skip

    def verdict(value: str) -> Any:
        return matcher.check(Item("host", value))

    return ConnectGuard(
        items,
        lookup=name_lookup([nameserver]),
        name_allowed=lambda name: verdict(name).in_scope,
        address_allowed=lambda address: verdict(address).in_scope,
        is_excluded=lambda a: not verdict(a).in_scope and verdict(a).target_id is not None,
        log=log.append,
        resolvers=[nameserver.rpartition(":")[0]],
    )


def test_dns_resolve_asks_no_nameserver_the_guard_refuses(
    scope_lab: Lab, step_context: StepContextFactory
) -> None:
    said: list[str] = []
    config = {"nameserver": f"{ADDRESS_B}:53", "use_system_resolver": False}
    ctx = step_context(config=config, items=[Item("host", f"a.{ZONE}")])
    ctx.connect_guard = guard(scope_lab.nameserver, *ctx.items, log=said)

    refused = dns_resolve.run(ctx)
    ctx.config = {"nameserver": scope_lab.nameserver, "use_system_resolver": False,
                  "record_types": "A"}  # fmt: skip
    answered = dns_resolve.run(ctx)

    assert refused.error == (
        f"nameserver {ADDRESS_B} refused: {ADDRESS_B}:53 is out of scope: not among the step's "
        "targets"
    )
    assert said == [f"connection to {ADDRESS_B}:53 refused: not among the step's targets"]
    assert answered.error == "" and [i.value for i in answered.items] == [ADDRESS_A]


def test_chromium_is_given_the_address_the_guard_checked(
    scope_lab: Lab, scripted_dns: type[ScriptedDNS], step_context: StepContextFactory,
    chromium_path: str,
) -> None:  # fmt: skip
    """r.lab23.test is known only to the test's DNS server, which answers A first and B after:
    Chromium renders the page from A, so it used the guard's answer and made no lookup."""
    dns = scripted_dns({(REBOUND, "A"): [[ADDRESS_A], [ADDRESS_B]]})
    url = f"http://{REBOUND}:8080/shot"
    said: list[str] = []
    ctx = step_context(items=[Item("url", url)], in_scope=hosts_scope([REBOUND]), timeout_s=120)
    ctx.connect_guard = guard(dns.address, *ctx.items, log=said)

    result = screenshot.run(ctx)

    assert result.error == "", step_context.logs
    assert [run.enforcement for run in result.runs] == ["connect"]
    assert f"--host-resolver-rules=MAP {REBOUND} {ADDRESS_A}" in result.runs[0].argv
    assert "8080 /shot" in scope_lab.a.requests()
    assert scope_lab.b.connections() == 0
    assert dns.times_asked(REBOUND) == 1
