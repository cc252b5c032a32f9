from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="gitleaks",
    label="Gitleaks",
    group="Scan",
    icon="branch",
    help="Secrets committed to git repositories with gitleaks, sandboxed.",
    runner="scans.tools.gitleaks",
)
