from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="webhook",
    label="Webhook",
    group="Notify",
    icon="http",
    help="POST the findings that reach this node as signed JSON to your own endpoint.",
    runner="integrations.alert_node",
    consumes_findings=True,
)
