"""Running a containerized tool's commands for a step: one ToolInvocation per command, limits and
network from settings, the report read back and parsed.

Paths: adapters write container paths into argv (`/output/<file>`, `/input/<name>`), which is
what a dry run shows and what the Docker executor runs. The local executor (tools installed on
the host) has no such mounts: there the same argv entries are rewritten to the invocation's
`workdir/output/…` and `workdir/input/…` just before running, and nothing else changes.
Commands without an image are host tools (`git clone`) and always run with the local executor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from django.conf import settings

from config.deployment import DEPLOYMENT_LABEL
from scans.engine.executors.local import LocalExecutor
from scans.engine.runtime import (
    Command,
    Executor,
    StepContext,
    StepFailed,
    StepResult,
    ToolInvocation,
    ToolRun,
)
from scans.engine.sandbox.enforcement import EnforcementUnavailable, network_enforcement
from scans.engine.sandbox.policy import NetworkScope, network_scope, touches_blocked
from scans.engine.sandbox.resolver import name_lookup
from scans.tools import tool_get, tool_image, tool_network
from scans.tools.kit.reports import ParsedReport, dedupe
from targets.items import Item

Parser = Callable[..., ParsedReport]


@dataclass
class Plan:
    """One command with what is needed to read its result: the report file it writes in
    /output (empty: the report is its stdout) and the item it is about."""

    command: Command
    output: str = ""
    subject: str = ""
    input_files: dict[str, Path] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    max_output_bytes: int | None = None  # default: settings.TOOL_OUTPUT_MAX_BYTES
    # Exit codes besides 0 after which the report is read (testssl.sh counts "ambiguous
    # results" in its exit code and still writes a complete report).
    ok_exit_codes: Container[int] = ()


def localize(argv: list[str], workdir: Path) -> list[str]:
    """Container paths in argv → the local executor's folders for this invocation."""
    local = []
    for arg in argv:
        # `--xml=/output/report.xml`: tools that take a path only glued to its option.
        option, glued, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if value == "/output" or value.startswith("/output/"):
            value = str(workdir / "output") + value[len("/output") :]
        elif value.startswith("/input/"):
            value = str(workdir / "input") + value[len("/input") :]
        local.append(f"{option}{glued}{value}" if glued else value if not option else arg)
    return local


def invoke(ctx: StepContext, tool: str, plan: Plan, *, workdir: Path, timeout_s: float) -> ToolRun:
    """Run one planned command with the tool's settings (image, network, limits)."""
    executor: Executor = ctx.executor if plan.command.image else LocalExecutor()
    argv = list(plan.command.argv)
    if executor.name != "docker":
        argv = localize(argv, workdir)
    invocation = ToolInvocation(
        argv=argv,
        timeout_s=max(1.0, timeout_s),
        workdir=workdir,
        image=plan.command.image,
        input_files=dict(plan.input_files),
        env=dict(plan.env),
        network=tool_network(tool),
        capabilities=tuple(tool_get(tool).capabilities),
        max_output_bytes=int(plan.max_output_bytes or settings.TOOL_OUTPUT_MAX_BYTES),
        memory_mb=int(settings.TOOL_MEMORY_MB),
        cpus=float(settings.TOOL_CPUS),
        pids_limit=int(settings.TOOL_PIDS_LIMIT),
        labels={
            "outpost.step": str(ctx.step_id),
            "outpost.scan": str(ctx.scan_id),
            "outpost.tool": tool,
            **({DEPLOYMENT_LABEL: ctx.deployment} if ctx.deployment else {}),
        },
        cancel_check=ctx.is_cancelled,
    )
    if settings.TOOL_CACHE and tool_get(tool).caches_downloads:
        invocation.cache_volume = f"{settings.TOOL_CACHE_VOLUME_PREFIX}{tool}"
        invocation.cache_init_image = settings.TOOL_IMAGE_CACHE_INIT
    try:
        enforcement = network_enforcement(
            executor=executor.name,
            network=invocation.network,
            items=ctx.items,
            raw_packets="NET_RAW" in invocation.capabilities,
        )
    except EnforcementUnavailable as exc:
        raise StepFailed(str(exc)) from exc
    if enforcement.enforced:
        invocation.sandbox = step_network_scope(ctx)
        for note in invocation.sandbox.notes:
            ctx.log(f"sandbox: {note}")
    run = executor.run(invocation)
    if not enforcement.enforced:
        run.enforcement = enforcement.reason
        if enforcement.reason:
            ctx.log(enforcement.reason)
    for note in run.notes:
        ctx.log(note)
    return run


def step_network_scope(ctx: StepContext) -> NetworkScope:
    """The sandbox allowlist of a step: its (scope-checked) items, names resolved by the worker
    through SCOPE_DNS_UPSTREAM, addresses the team excludes left out."""

    def verdict(value: str) -> Any:
        item = Item("host", value)
        if ctx.scope_verdict is not None:
            return ctx.scope_verdict(item)
        return SimpleNamespace(in_scope=ctx.in_scope(item), target_id=None)

    def is_excluded(address: str) -> bool:
        found = verdict(address)
        return not found.in_scope and found.target_id is not None

    upstream = list(settings.SCOPE_DNS_UPSTREAM)
    return network_scope(
        ctx.items,
        lookup=name_lookup(upstream),
        is_excluded=is_excluded,
        name_allowed=lambda name: bool(verdict(name).in_scope),
        address_allowed=lambda address: bool(verdict(address).in_scope),
        upstream=upstream,
    )


def _drop_blocked(
    ctx: StepContext, label: str, parsed: ParsedReport, blocked: list[dict[str, Any]]
) -> None:
    """A finding or item about a destination the sandbox refused is not the tool's observation
    (a tool may report what it meant to reach): it is dropped, and the step log says so."""
    findings = [f for f in parsed.findings if not touches_blocked(f.location or f.item, blocked)]
    items = [item for item in parsed.items if not touches_blocked(item.value, blocked)]
    dropped = len(parsed.findings) - len(findings) + len(parsed.items) - len(items)
    if dropped:
        ctx.log(f"{label}: {dropped} result(s) about blocked destinations dropped")
    parsed.findings, parsed.items = findings, items


def _accepted(run: ToolRun, plan: Plan) -> bool:
    return (
        run.exit_code is not None
        and run.exit_code in plan.ok_exit_codes
        and not (run.timed_out or run.cancelled or run.error)
    )


def run_failure(run: ToolRun) -> str:
    """Why a run did not produce a usable result, in a line."""
    if run.error:
        return run.error
    tail = run.stderr.decode(errors="replace").strip()[-300:]
    return f"exited with code {run.exit_code}" + (f": {tail}" if tail else "")


PlanBuilder = Callable[[dict[str, Any], list[Item]], tuple[list[Plan], list[str]]]
CommandsOf = Callable[[dict[str, Any], list[Item]], list[Command]]
StepRunner = Callable[[StepContext], StepResult]
Target = TypeVar("Target")


def own_subjects(targets: Iterable[str]) -> list[tuple[str, str]]:
    """Each target once, as its own subject (the step log names the command by its argument)."""
    return [(target, target) for target in dict.fromkeys(targets)]


def numbered_plans(
    tool: str,
    targets: Iterable[tuple[str, Target]],
    extension: str,
    argv: Callable[[Target, str], list[str]],
    **plan: Any,
) -> list[Plan]:
    """One command per (subject, target) pair, in the tool's image, each writing its report to
    `/output/<tool>-N.<extension>`: `argv(target, report_path)` is its command line. `plan`
    holds the Plan fields every command shares (input files, environment, accepted exit
    codes)."""
    image = tool_image(tool)
    plans = []
    for index, (subject, target) in enumerate(targets, start=1):
        output = f"{tool}-{index}.{extension}"
        command = Command(argv(target, f"/output/{output}"), image)
        plans.append(Plan(command, output=output, subject=subject, **plan))
    return plans


def planned_runner(tool: str, plan: PlanBuilder, parse: Parser) -> tuple[CommandsOf, StepRunner]:
    """A container tool's runner contract (`commands`, `run`; see scans.engine.runtime) from its
    plan builder and parser: `commands, run = planned_runner(TOOL, _plans, parse)`. `commands`
    is what a dry run shows (the plan builder's docstring says what it plans); `run` runs exactly
    those plans (`run_planned`), unless the tool is switched off by its setting."""

    def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
        return [planned.command for planned in plan(config, items)[0]]

    def run(ctx: StepContext) -> StepResult:
        node = tool_get(tool)
        if node.is_switched_off:
            raise StepFailed(node.unavailable_reason)
        return run_planned(ctx, tool, plan, parse)

    commands.__doc__ = plan.__doc__
    return commands, run


def run_planned(ctx: StepContext, tool: str, plan: PlanBuilder, parse: Parser) -> StepResult:
    """A container tool's `run`: plan its commands for the step's items (refusals are logged:
    a value the tool could misread never reaches it), then `run_plans`."""
    plans, refused = plan(ctx.config, ctx.items)
    for line in refused:
        ctx.log(line)
    return run_plans(ctx, tool, plans, parse)


def run_plans(ctx: StepContext, tool: str, plans: list[Plan], parse: Parser) -> StepResult:
    """Run each plan in turn within the step's time, parse each report, and return the step's
    result: findings (deduplicated), in-scope items, runs, raw reports as artifacts. The step
    fails only when every command failed; a failed command among several is logged."""
    result = StepResult()
    deadline = time.monotonic() + ctx.timeout_s
    failures: list[str] = []
    for index, plan in enumerate(plans, start=1):
        ctx.progress(index - 1, len(plans))
        label = plan.subject or tool
        if ctx.is_cancelled():
            result.error = "cancelled"
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            failures.append(f"{label}: not run, the step's {ctx.timeout_s:g} s were used up")
            continue
        workdir = ctx.workdir / f"{tool}-{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        run = invoke(ctx, tool, plan, workdir=workdir, timeout_s=remaining)
        result.runs.append(run)
        ctx.heartbeat()
        if run.cancelled:
            result.error = "cancelled"
            return result
        report = (run.output_dir / plan.output) if (plan.output and run.output_dir) else None
        if report is not None and report.is_file():
            result.artifacts.append(report)
        if not (run.ok or _accepted(run, plan)):
            failures.append(f"{label}: {run_failure(run)}")
            ctx.log(failures[-1])
            continue
        if plan.output and (report is None or not report.is_file()):
            failures.append(f"{label}: the tool wrote no report ({plan.output})")
            ctx.log(failures[-1])
            continue
        data = report.read_bytes() if report is not None else run.stdout
        try:
            parsed = parse(data, subject=plan.subject)
        except ValueError as exc:
            failures.append(f"{label}: unreadable report: {exc}")
            ctx.log(failures[-1])
            continue
        for note in parsed.notes:
            ctx.log(f"{label}: {note}")
        if run.blocked:
            _drop_blocked(ctx, label, parsed, run.blocked)
        result.findings.extend(parsed.findings)
        result.assets.extend(parsed.assets)
        for item in parsed.items:
            if ctx.in_scope(item):
                result.items.append(item)
            else:
                # Kept in the inventory as an out-of-scope lead; no later step touches it.
                result.assets.append(item)
                ctx.log(f"{item.value}: discovered but out of scope, not handed on")
        ctx.log(f"{label}: {len(parsed.findings)} finding(s), {len(parsed.items)} item(s)")
    result.findings = dedupe(result.findings)
    result.items = list(dict.fromkeys(result.items))  # items compare by kind and value
    if plans and len(failures) == len(plans):
        # Every command failed and one of them because the engine was away: not the tool's fault.
        result.infrastructure = any(run.infrastructure for run in result.runs)
        result.error = (
            failures[0]
            if len(failures) == 1
            else (f"all {len(failures)} commands failed; first: {failures[0]}")
        )
    return result
