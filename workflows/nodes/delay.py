from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="delay",
    label="Delay",
    group="Logic",
    icon="clock",
    help="Wait before the next steps run (scheduled: no worker is held).",
    runner="scans.logic.delay",
    passthrough=True,
    consumes_findings=True,
)
