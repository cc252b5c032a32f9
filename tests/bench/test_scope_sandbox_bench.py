"""Benchmark: the network sandbox's cost (`make bench`; not part of `make test`).

nmap (the local test image, `-sT -Pn -n -p 1-10000`) scans the authorized lab host A (a network
namespace this test creates: tests/sandbox_lab.py), RUNS times through the sandbox and RUNS
times unfenced on the host network, alternating, in the same run. Printed: the medians of the
whole tool run (container created, started, waited for, removed; the sandboxed run includes its
holder, link, policy and resolver), their ratio (goal <= 1.1), and the sandbox's set-up time per
run, median and p95 (goal <= 200 ms). Both must find the same open ports.

The test process warms its sandbox first as a worker process does when it starts
(`sandbox_prewarm`), and waits for that spare as a worker's first step would find it ready; the
set-up of one run in a process that never warmed (no spare: a holder started on the step's
path) is printed besides, as what the warm-up saves.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

from scans.engine.executors.docker import DockerExecutor
from scans.engine.runtime import Command
from scans.engine.sandbox.container import sandbox_prewarm
from scans.engine.sandbox.holders import spares
from scans.engine.sandbox.link import sandbox_unsupported
from scans.tools import nmap
from scans.tools.kit.invoke import Plan, invoke
from targets.items import Item
from tests.conftest import service_unavailable
from tests.sandbox_lab import ADDRESS_A, Lab
from tests.scans.conftest import StepContextFactory, hosts_scope
from tests.scans.tools.conftest import build_test_images

RUNS = 7
PORTS = "1-10000"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _scan(ctx: Any, plan: Plan, index: int) -> tuple[float, float | None, set[int]]:
    workdir = ctx.workdir / f"bench-{index}"
    workdir.mkdir(parents=True, exist_ok=True)
    run = invoke(ctx, "nmap", plan, workdir=workdir, timeout_s=300)
    assert run.ok and run.output_dir is not None, (run.error, run.stderr[-500:])
    report = nmap.parse((run.output_dir / plan.output).read_bytes())
    ports = {int(item.value.rsplit(":", 1)[1].split("/")[0]) for item in report.items}
    return run.duration_ms, run.sandbox_setup_ms, ports


def test_a_port_scan_through_the_sandbox_against_the_same_scan_unfenced(
    require_docker: Any, settings: Any, scope_lab: Lab, step_context: StepContextFactory
) -> None:
    reason = sandbox_unsupported()
    if reason:
        service_unavailable("netns", reason)
    images = build_test_images()
    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "nmap": images["nmap"]}
    settings.TOOL_NETWORK = {**settings.TOOL_NETWORK, "nmap": "host"}
    settings.SCOPE_SANDBOX_IMAGE = images["busybox"]
    ctx = step_context(
        items=[Item("host", ADDRESS_A)], executor=DockerExecutor(), timeout_s=600,
        in_scope=hosts_scope([ADDRESS_A]),
    )  # fmt: skip
    plans, _ = nmap._plans({"ports": PORTS, "version_detection": False}, ctx.items)
    argv = list(plans[0].command.argv)
    argv.insert(argv.index("-Pn") + 1, "-n")  # no reverse DNS in either: the ports, compared
    plan = Plan(command=Command(argv, plans[0].command.image), output=plans[0].output)

    fenced: list[float] = []
    unfenced: list[float] = []
    setups: list[float] = []
    found: dict[str, set[int]] = {}
    spares.clear()
    settings.SCOPE_ENFORCEMENT = "required"
    _, cold_ms, _ = _scan(ctx, plan, 2 * RUNS)  # a process that never warmed: no spare
    spares.clear()
    warm_started = time.monotonic()
    assert sandbox_prewarm(deployment=ctx.deployment)
    while not spares.ready and time.monotonic() - warm_started < 60:
        time.sleep(0.02)
    warm_ms = (time.monotonic() - warm_started) * 1000
    for index in range(RUNS):
        settings.SCOPE_ENFORCEMENT = "required"
        duration_ms, setup_ms, found["fenced"] = _scan(ctx, plan, 2 * index)
        assert setup_ms is not None
        fenced.append(duration_ms)
        setups.append(setup_ms)
        settings.SCOPE_ENFORCEMENT = "off"
        duration_ms, _, found["unfenced"] = _scan(ctx, plan, 2 * index + 1)
        unfenced.append(duration_ms)

    assert found["fenced"] == found["unfenced"] == {8080, 9090}, found
    ratio = statistics.median(fenced) / statistics.median(unfenced)
    print(
        f"\nnmap -sT -p {PORTS} of {ADDRESS_A}, {RUNS} runs each, alternating:"
        f"\n  unfenced (host network): median {statistics.median(unfenced):.0f} ms"
        f"\n  through the sandbox:     median {statistics.median(fenced):.0f} ms"
        f"\n  ratio sandbox / unfenced: {ratio:.2f} (goal <= 1.1)"
        f"\n  sandbox set-up per run: median {statistics.median(setups):.0f} ms, "
        f"p95 {_p95(setups):.0f} ms (goal <= 200 ms)"
        f"\n  without the warm-up (a cold holder on the step's path): {cold_ms:.0f} ms; "
        f"the warm-up itself, off any step's path: {warm_ms:.0f} ms"
    )
    assert ratio > 0


@pytest.fixture
def step_context(tmp_path: Any) -> StepContextFactory:
    return StepContextFactory(tmp_path / "steps")
