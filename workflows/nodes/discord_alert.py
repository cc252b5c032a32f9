from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="discord_alert",
    label="Discord alert",
    group="Notify",
    icon="bell",
    help="Post the findings that reach this node to a Discord channel (webhook).",
    runner="integrations.alert_node",
    consumes_findings=True,
)
