from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="grype",
    label="Grype",
    group="Scan",
    icon="box",
    help="A second opinion on container image vulnerabilities with Grype, sandboxed.",
    runner="scans.tools.grype",
    enabled_setting="GRYPE_ENABLED",
)
