from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="nuclei",
    label="Nuclei",
    group="Scan",
    icon="crosshair",
    help="Template-based web vulnerability checks with nuclei, sandboxed.",
    runner="scans.tools.nuclei",
)
