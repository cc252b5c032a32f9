"""SCOPE_ENFORCEMENT: off, auto and required, and the step saying why a tool runs unfenced."""

from __future__ import annotations

from typing import Any

import pytest

from scans.engine.executors.local import LocalExecutor
from scans.engine.runtime import Command, StepFailed
from scans.engine.sandbox.enforcement import EnforcementUnavailable, network_enforcement
from scans.engine.sandbox.link import sandbox_unsupported
from scans.tools.kit.invoke import Plan, invoke
from targets.items import Item
from tests.scans.conftest import StepContextFactory

REMOTE = [Item.service("198.19.231.2", 8080)]


def test_off_says_so(settings: Any) -> None:
    settings.SCOPE_ENFORCEMENT = "off"

    decision = network_enforcement(executor="docker", network="bridge", items=REMOTE)

    assert not decision.enforced
    assert decision.reason == "scope enforcement is off (SCOPE_ENFORCEMENT=off)"


def test_a_tool_without_a_network_needs_no_sandbox(settings: Any) -> None:
    settings.SCOPE_ENFORCEMENT = "required"

    decision = network_enforcement(executor="docker", network="none", items=REMOTE)

    assert (decision.enforced, decision.reason) == (False, "")


def test_a_step_on_images_only_is_not_fenced_its_network_is_for_downloads(settings: Any) -> None:
    settings.SCOPE_ENFORCEMENT = "required"

    decision = network_enforcement(
        executor="docker", network="bridge", items=[Item("image", "nginx:1.25")]
    )

    assert (decision.enforced, decision.reason) == (False, "")


def test_auto_sandboxes_a_docker_tool_when_the_worker_can(settings: Any) -> None:
    settings.SCOPE_ENFORCEMENT = "auto"
    why = sandbox_unsupported()

    decision = network_enforcement(executor="docker", network="bridge", items=REMOTE)

    assert decision.enforced == (why == "")
    assert decision.reason == ("" if not why else f"scope enforcement is off: {why}")


def test_auto_runs_the_local_executor_unfenced_and_says_why(settings: Any) -> None:
    settings.SCOPE_ENFORCEMENT = "auto"

    decision = network_enforcement(executor="local", network="host", items=REMOTE)

    assert not decision.enforced
    assert "the local executor runs tools in the worker's own network" in decision.reason


def test_a_scan_of_the_workers_own_loopback_cannot_be_fenced(settings: Any) -> None:
    settings.SCOPE_ENFORCEMENT = "auto"

    decision = network_enforcement(
        executor="docker", network="host", items=[Item.service("127.0.0.1", 8080)]
    )

    assert not decision.enforced
    assert "the worker's own loopback (127.0.0.1)" in decision.reason


def test_an_ipv6_target_is_not_fenced_when_the_links_carry_no_ipv6(settings: Any) -> None:
    settings.SCOPE_ENFORCEMENT = "auto"
    settings.SCOPE_SANDBOX_SUBNET6 = ""
    if sandbox_unsupported():
        pytest.skip("the worker cannot build sandboxes: the reason would be that")

    decision = network_enforcement(
        executor="docker", network="host", items=[Item.service("fd23:231::2", 443)]
    )

    assert not decision.enforced
    assert decision.reason == (
        "scope enforcement is off: the targets include an IPv6 address (fd23:231::2) and "
        "IPv6 sandboxing is off (SCOPE_SANDBOX_SUBNET6 is empty)"
    )


def test_required_refuses_what_cannot_be_fenced(settings: Any) -> None:
    settings.SCOPE_ENFORCEMENT = "required"

    with pytest.raises(EnforcementUnavailable, match="SCOPE_ENFORCEMENT=required"):
        network_enforcement(executor="local", network="host", items=REMOTE)


def test_required_fails_the_step_before_the_tool_runs(
    settings: Any, step_context: StepContextFactory, tmp_path: Any
) -> None:
    settings.SCOPE_ENFORCEMENT = "required"
    ctx = step_context(items=REMOTE, executor=LocalExecutor())
    plan = Plan(command=Command(argv=["nmap", "-p", "8080", "198.19.231.2"], image="x"))

    with pytest.raises(StepFailed, match="network sandbox is unavailable"):
        invoke(ctx, "nmap", plan, workdir=tmp_path, timeout_s=10)


def test_an_unfenced_run_says_why_in_the_step_log(
    settings: Any, step_context: StepContextFactory, tmp_path: Any
) -> None:
    settings.SCOPE_ENFORCEMENT = "off"
    ctx = step_context(items=REMOTE, executor=LocalExecutor())
    plan = Plan(command=Command(argv=["true"]))

    run = invoke(ctx, "nmap", plan, workdir=tmp_path, timeout_s=10)

    assert run.enforcement == "scope enforcement is off (SCOPE_ENFORCEMENT=off)"
    assert "scope enforcement is off (SCOPE_ENFORCEMENT=off)" in step_context.logs
