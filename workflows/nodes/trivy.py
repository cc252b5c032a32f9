from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="trivy",
    label="Trivy",
    group="Scan",
    icon="box",
    help="Known vulnerabilities in container images with Trivy, sandboxed.",
    runner="scans.tools.trivy",
)
