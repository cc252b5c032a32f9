"""A node type registered only by tests (its package is added to settings.NODE_PACKAGES): it takes
services, so it cannot start a workflow. Like every node module, it is its own runner."""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import Command, StepContext, StepResult
from targets.items import Item
from workflows.nodes.base import NodeType

NODE = NodeType(
    type="svc_only",
    label="Service only",
    group="Notify",
    icon="bell",
    help="Test node that accepts services only.",
)
CONFIG_FIELDS: list[dict[str, Any]] = []
ACCEPTS = {"service"}
EMITS: set[str] = set()


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    return []


def run(ctx: StepContext) -> StepResult:
    return StepResult()
