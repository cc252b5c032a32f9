from __future__ import annotations

from workflows.nodes.base import NodeType

NODE = NodeType(
    type="tls_inspect",
    label="TLS inspect",
    group="Probe",
    icon="lock",
    help="Check certificates and TLS versions: expiry, hostname match, weak protocols.",
    runner="scans.tools.tls_inspect",
)
