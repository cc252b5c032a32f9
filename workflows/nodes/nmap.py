from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="nmap",
    label="Nmap",
    group="Discover",
    icon="network",
    help="Port and service detection with nmap, in a sandboxed container.",
    runner="scans.tools.nmap",
)
