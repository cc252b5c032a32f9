"""How a built-in tool's work is recorded: one ToolRun per builtin argv, like an external tool.

The engine stores runs on the ScanStep (command line, exit code, output tails) and keeps stdout as
the raw artifact, so a built-in tool writes a short human-readable account of what it did.
"""

from __future__ import annotations

import json
import time
from argparse import Namespace
from collections.abc import Iterator
from typing import Any

from scans.engine.runtime import Command, StepContext, StepResult, ToolRun
from scans.tools.kit.options import BuiltinArgs

BUILTIN_EXECUTOR = "builtin"  # ToolRun.executor for work done inside the worker process


class BuiltinRun:
    """Collects one builtin command's output lines and outcome into a ToolRun."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = list(argv)
        self.started = time.monotonic()
        self.lines: list[str] = []
        self.errors: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    def record(self, data: dict[str, Any]) -> None:
        """One JSON line of structured output (answers, certificate details…)."""
        self.lines.append(json.dumps(data, sort_keys=True, default=str))

    def warn(self, line: str) -> None:
        self.errors.append(line)

    def finish(self, *, error: str = "", cancelled: bool = False, failed: bool = False) -> ToolRun:
        """The ToolRun: exit code 1 when it failed (`error` says why and fails the step when every
        command failed) or found nothing to talk to (`failed`: no HTTP answer, no TLS handshake,
        which is a result of the recon and not an error)."""
        failed = failed or bool(error) or cancelled
        return ToolRun(
            argv=self.argv,
            executor=BUILTIN_EXECUTOR,
            exit_code=1 if failed else 0,
            stdout="".join(f"{line}\n" for line in self.lines).encode(),
            stderr="".join(f"{line}\n" for line in self.errors).encode(),
            cancelled=cancelled,
            duration_ms=(time.monotonic() - self.started) * 1000,
            error="cancelled" if cancelled and not error else error,
        )

    def fail(self, ctx: StepContext, reason: str) -> ToolRun:
        """The ToolRun of a command that failed with an error; `reason` goes to the step log
        too."""
        ctx.log(reason)
        return self.finish(error=reason)

    def conclude(self, ctx: StepContext, summary: str) -> None:
        """The command's last line of output, which the step log shows as well."""
        self.say(summary)
        ctx.log(summary)


def builtin_commands(
    ctx: StepContext, result: StepResult, planned: list[Command], arguments: BuiltinArgs
) -> Iterator[tuple[BuiltinRun, Namespace]]:
    """The commands a built-in tool planned, in turn, each with its record and its parsed argv.
    Once the step is cancelled none is run any more: the first command left says so in
    `result.runs`."""
    for command in planned:
        record = BuiltinRun(command.argv)
        if ctx.is_cancelled():
            result.runs.append(record.finish(cancelled=True))
            return
        yield record, arguments.parse(command.argv)


def step_error(runs: list[ToolRun]) -> str:
    """A step fails only when every one of its commands failed: one unreachable host among many
    is a finding of the recon, not a failed step."""
    failed = [run for run in runs if run.error]
    if runs and len(failed) == len(runs):
        if len(failed) == 1:
            return failed[0].error
        return f"all {len(failed)} commands failed; first: {failed[0].error}"
    return ""
