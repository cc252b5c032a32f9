from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="rules",
    label="Rules",
    group="Logic",
    icon="list",
    help="Match findings by field and pattern to set their severity, drop or tag them.",
    runner="scans.logic.rules",
    passthrough=True,
    consumes_findings=True,
)
