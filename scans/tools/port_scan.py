"""port_scan: a built-in TCP connect scan of each input host.

argv: ["builtin:port_scan", "--ports", SPEC, "--timeout-ms", N, "--concurrency", N, "--", HOST]

A host name is resolved once and its first address is scanned: with the step's connect guard
(scans.engine.sandbox.guard) the address the guard checked, so every connection of the scan goes
to a checked address and a second DNS answer (rebinding) is never used; without one
(SCOPE_ENFORCEMENT=off) the system resolver's. The services it emits keep the name (so later
steps and scope checks see what was authorized) and carry the scanned address in attrs. Open
ports become `service` items; nothing else is reported (an open port is an observation, not a
finding). See scans.tools.kit.tcp_connect for how it is fast.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from scans.engine.runtime import Command, StepContext, StepResult
from scans.engine.sandbox.guard import ConnectRefused, pinned_address
from scans.tools.kit import fields
from scans.tools.kit.options import BuiltinArgs, ConfigField, timeout_field, validate_config
from scans.tools.kit.port_spec import parse_port_spec, ports_field
from scans.tools.kit.records import builtin_commands, step_error
from scans.tools.kit.tcp_connect import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    ScanOutcome,
    scan_tcp_ports,
)
from scans.tools.kit.tool import Tool
from scans.tools.kit.values import is_ip_literal
from targets.items import Item

TOOL = "port_scan"
ACCEPTS = {"host"}
EMITS = {"service"}

NODE = Tool(
    type="port_scan",
    label="Port scan",
    group="Discover",
    icon="radar",
    help="Find open TCP ports with fast connect scans (built in, no tool needed).",
    order=20,
)
HEARTBEAT_EVERY_S = 2.0
CONFIG_FIELDS: list[ConfigField] = [
    ports_field("top-100", "top-100, top-1000, all, or a list like 22,80,8000-8100 (keywords may be mixed in)"),
    fields.integer("timeout_ms", 1000, 50, 30000, "How long to wait for an answer to each connection attempt"),
    fields.concurrency(DEFAULT_CONCURRENCY, MAX_CONCURRENCY, "Connection attempts in flight at once (capped by the open-file limit)"),
    timeout_field(),
]  # fmt: skip

_ARGS = BuiltinArgs(TOOL)
_ARGS.add_argument("--ports", required=True)
_ARGS.add_argument("--timeout-ms", type=int, required=True)
_ARGS.add_argument("--concurrency", type=int, required=True)
_ARGS.add_argument("host")


def commands(config: dict, items: list[Item]) -> list[Command]:
    """One scan per host item, in input order."""
    options = validate_config(config, CONFIG_FIELDS)
    return [
        Command(
            [
                f"builtin:{TOOL}",
                "--ports",
                options["ports"],
                "--timeout-ms",
                str(options["timeout_ms"]),
                "--concurrency",
                str(options["concurrency"]),
                "--",
                item.value,
            ]
        )
        for item in items
        if item.kind == "host"
    ]


def resolve_address(host: str, guard: Any = None) -> str:
    """The address to scan: with a connect guard, the one it checked (ConnectRefused when it
    refuses the host); else the literal itself, or the system resolver's first answer."""
    if guard is not None:
        return pinned_address(guard, host, None)
    if is_ip_literal(host):
        return host
    answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    if not answers:
        raise OSError(f"no address for {host}")
    return str(answers[0][4][0])


def run(ctx: StepContext) -> StepResult:
    result = StepResult()
    last_beat = time.monotonic()

    def on_tick(_outcome: ScanOutcome) -> None:
        nonlocal last_beat
        if time.monotonic() - last_beat >= HEARTBEAT_EVERY_S:
            last_beat = time.monotonic()
            ctx.heartbeat()

    for record, args in builtin_commands(ctx, result, commands(ctx.config, ctx.items), _ARGS):
        ports = parse_port_spec(args.ports)
        try:
            address = resolve_address(args.host, ctx.connect_guard)
        except ConnectRefused as exc:
            reason = f"{args.host} not scanned: {exc}"
            result.runs.append(record.fail(ctx, reason))
            continue
        except OSError as exc:
            result.runs.append(
                record.fail(ctx, f"cannot resolve {args.host}: {exc.strerror or exc}")
            )
            continue
        record.say(f"scanning {len(ports)} tcp ports of {args.host} ({address})")
        outcome = scan_tcp_ports(
            address,
            ports,
            timeout_s=args.timeout_ms / 1000,
            concurrency=args.concurrency,
            should_stop=ctx.is_cancelled,
            on_tick=on_tick,
        )
        for port in outcome.open_ports:
            record.say(f"open {port}/tcp")
            result.items.append(Item.service(args.host, port, "tcp", address=address))
        summary = (
            f"{args.host}: {len(outcome.open_ports)} open, {outcome.closed} closed, "
            f"{outcome.filtered} without answer, {outcome.unreachable} unreachable "
            f"of {outcome.scanned} scanned (concurrency {outcome.concurrency})"
        )
        if outcome.errors:
            summary += f"; errors {dict(sorted(outcome.errors.items()))}"
        record.conclude(ctx, summary)
        result.runs.append(record.finish(cancelled=outcome.stopped))
        if outcome.stopped:
            break
    result.error = step_error(result.runs)
    return result
