from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="secret_scan",
    label="Secret scan",
    group="Scan",
    icon="key",
    help="Secrets exposed in web responses and repositories (built in).",
    runner="scans.tools.secret_scan",
)
