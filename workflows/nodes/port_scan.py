from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="port_scan",
    label="Port scan",
    group="Discover",
    icon="radar",
    help="Find open TCP ports with fast connect scans (built in, no tool needed).",
    runner="scans.tools.port_scan",
)
