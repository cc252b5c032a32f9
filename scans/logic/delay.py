"""`delay`: wait before the following steps run.

The waiting is done by the engine, which re-queues the step with `not_before` (a scheduled
task) instead of holding a worker: no task ever sleeps. Once due, the node passes its input
through unchanged.
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import ITEM_KINDS, Command, Item, StepContext, StepResult

CONFIG_FIELDS: list[dict[str, Any]] = [
    {"name": "seconds", "type": "int", "default": 60, "min": 1, "max": 86400,
     "help": "How long to wait before the next steps run (1 s to 24 h)."},
]  # fmt: skip
ACCEPTS = set(ITEM_KINDS)
EMITS = set(ITEM_KINDS)


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    return [Command(argv=["logic:delay", "--seconds", str(config.get("seconds", 60))])]


def run(ctx: StepContext) -> StepResult:
    return StepResult(items=list(ctx.items), findings=list(ctx.findings))
