from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="dns_resolve",
    label="DNS resolve",
    group="Discover",
    icon="globe",
    help="Resolve host names to their A/AAAA addresses (and follow CNAMEs in scope).",
    runner="scans.tools.dns_resolve",
)
