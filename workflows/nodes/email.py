from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="email",
    label="E-mail",
    group="Notify",
    icon="bell",
    help="E-mail the findings that reach this node to the integration's recipients.",
    runner="integrations.alert_node",
    consumes_findings=True,
)
