"""nmap (the local test image) through the sandbox, as a workflow step runs it: it finds the
authorized host's open port, and a service item narrows the scan's reach to that port."""

from __future__ import annotations

from typing import Any

import pytest

from scans.engine.executors.docker import DockerExecutor
from scans.engine.runtime import Command
from scans.engine.sandbox.link import sandbox_unsupported
from scans.tools import nmap
from scans.tools.kit.invoke import invoke
from targets.items import Item
from tests.conftest import service_unavailable
from tests.sandbox_lab import ADDRESS_A, Lab
from tests.scans.conftest import hosts_scope
from tests.scans.tools.conftest import build_test_images


@pytest.fixture
def fenced_nmap(require_docker: Any, settings: Any) -> dict[str, str]:
    """nmap's local image, run only in a sandbox (required); its own network mode would be the
    host's (the sandbox replaces it)."""
    reason = sandbox_unsupported()
    if reason:
        service_unavailable("netns", reason)
    images = build_test_images()
    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "nmap": images["nmap"]}
    settings.TOOL_NETWORK = {**settings.TOOL_NETWORK, "nmap": "host"}
    settings.SCOPE_ENFORCEMENT = "required"
    settings.SCOPE_SANDBOX_IMAGE = images["busybox"]
    return images


def test_nmap_in_the_sandbox_finds_the_open_ports_of_its_target(
    fenced_nmap: dict[str, str], step_context: Any, scope_lab: Lab
) -> None:
    ctx = step_context(
        config={"ports": "8080,9090,9999", "version_detection": False},
        items=[Item("host", ADDRESS_A)], executor=DockerExecutor(), timeout_s=120,
        in_scope=hosts_scope([ADDRESS_A]),
    )  # fmt: skip

    result = nmap.run(ctx)

    assert result.error == "", step_context.logs
    [run] = result.runs
    # nmap looks its target up; a refusal there cost it seconds of retries
    assert not [line for line in step_context.logs if "not answered" in line]
    assert run.enforcement == "network" and run.blocked == []
    assert {item.value for item in result.items} == {
        f"{ADDRESS_A}:8080/tcp", f"{ADDRESS_A}:9090/tcp"
    }  # fmt: skip


def test_a_service_item_narrows_what_the_sandbox_lets_nmap_reach(
    fenced_nmap: dict[str, str], step_context: Any, scope_lab: Lab
) -> None:
    """The step's item is A:8080 only; a tool that scans A:9090 anyway (here: nmap given the
    port by hand, as a hostile image would) is refused there and the attempt is counted."""
    ctx = step_context(
        items=[Item.service(ADDRESS_A, 8080)], executor=DockerExecutor(),
        in_scope=hosts_scope([ADDRESS_A]),
    )  # fmt: skip
    plan = nmap._plans({"ports": "top-100"}, ctx.items)[0][0]
    argv = [*plan.command.argv]
    argv[argv.index("-p") + 1] = "8080,9090"
    plan.command = Command(argv=argv, image=plan.command.image)

    run = nmap_invoke(ctx, plan)

    report = (run.output_dir / plan.output).read_text()  # type: ignore[operator]
    assert 'portid="8080"><state state="open"' in report
    assert 'portid="9090"><state state="open"' not in report
    assert {(row["address"], row["port"]) for row in run.blocked} == {(ADDRESS_A, 9090)}


def nmap_invoke(ctx: Any, plan: Any) -> Any:
    workdir = ctx.workdir / "nmap-hand"
    workdir.mkdir(parents=True, exist_ok=True)
    return invoke(ctx, "nmap", plan, workdir=workdir, timeout_s=120)
