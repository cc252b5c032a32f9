"""A node type registered only by tests: it takes services, so it cannot start a workflow.
It is both the node module (NODE) and its own runner, as a later alert node may be."""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import Command, Item, StepContext, StepResult
from workflows.nodes.base import NodeType

NODE = NodeType(
    type="svc_only",
    label="Service only",
    group="Notify",
    icon="bell",
    help="Test node that accepts services only.",
    runner="tests.workflows.service_only_node",
)
CONFIG_FIELDS: list[dict[str, Any]] = []
ACCEPTS = {"service"}
EMITS: set[str] = set()


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    return []


def run(ctx: StepContext) -> StepResult:
    return StepResult()
