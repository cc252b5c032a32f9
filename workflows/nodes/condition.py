from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="condition",
    label="Condition",
    group="Logic",
    icon="filter",
    help="Continue only with findings and items that match: severity, count, kinds, ports.",
    runner="scans.logic.condition",
    passthrough=True,
    consumes_findings=True,
)
