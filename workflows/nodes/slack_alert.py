from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="slack_alert",
    label="Slack alert",
    group="Notify",
    icon="bell",
    help="Post the findings that reach this node to a Slack channel (incoming webhook).",
    runner="integrations.alert_node",
    consumes_findings=True,
)
