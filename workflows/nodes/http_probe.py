from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="http_probe",
    label="HTTP probe",
    group="Probe",
    icon="http",
    help="Find web servers on hosts and services: status, title, server, redirects.",
    runner="scans.tools.http_probe",
)
