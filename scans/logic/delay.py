"""`delay`: wait before the following steps run.

The waiting is done by the engine, which re-queues the step with `not_before` (a scheduled
task) instead of holding a worker: no task ever sleeps. Once due, the node passes its input
through unchanged.
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import Command, StepContext, StepResult
from targets.items import ITEM_KINDS, Item
from workflows.nodes.base import NodeType

CONFIG_FIELDS: list[dict[str, Any]] = [
    {"name": "seconds", "type": "int", "default": 60, "min": 1, "max": 86400,
     "help": "How long to wait before the next steps run (1 s to 24 h)."},
]  # fmt: skip
ACCEPTS = set(ITEM_KINDS)
EMITS = set(ITEM_KINDS)

NODE = NodeType(
    type="delay",
    label="Delay",
    group="Logic",
    icon="clock",
    help="Wait before the next steps run (scheduled: no worker is held).",
    order=30,
    passthrough=True,
    consumes_findings=True,
    waits=True,
)


def wait_s(config: dict[str, Any]) -> int:
    """How long the engine holds the step before it runs (NODE.waits)."""
    return int(config.get("seconds", 60))


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    return [Command(argv=["logic:delay", "--seconds", str(config.get("seconds", 60))])]


def run(ctx: StepContext) -> StepResult:
    return StepResult(items=list(ctx.items), findings=list(ctx.findings))
