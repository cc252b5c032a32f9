"""The node-type registry: node type -> dotted path of the module that defines its `NODE`.

Adding a node type is one line here plus its module (nearest existing one to mirror: `delay` for
a logic node, `trivy` for a containerized tool). The module defines `NODE = NodeType(...)`; the
node's behaviour (config schema, accepted/emitted item kinds, run) lives in the runner module it
names. Modules are imported lazily, the first time a node type is looked at.
"""

from __future__ import annotations

import importlib

import structlog

from workflows.nodes.base import GROUPS, FieldSpec, NodeType

__all__ = [
    "GROUPS",
    "NODE_TYPES",
    "FieldSpec",
    "NodeType",
    "get_node_type",
    "node_type",
    "node_types",
]

NODE_TYPES: dict[str, str] = {
    # Discover
    "dns_resolve": "workflows.nodes.dns_resolve",
    "port_scan": "workflows.nodes.port_scan",
    "nmap": "workflows.nodes.nmap",
    # Probe
    "http_probe": "workflows.nodes.http_probe",
    "tls_inspect": "workflows.nodes.tls_inspect",
    # Scan
    "nuclei": "workflows.nodes.nuclei",
    "trivy": "workflows.nodes.trivy",
    "grype": "workflows.nodes.grype",
    "gitleaks": "workflows.nodes.gitleaks",
    "secret_scan": "workflows.nodes.secret_scan",
    # Logic
    "condition": "workflows.nodes.condition",
    "rules": "workflows.nodes.rules",
    "delay": "workflows.nodes.delay",
    # Notify
    "slack_alert": "workflows.nodes.slack_alert",
    "discord_alert": "workflows.nodes.discord_alert",
    "webhook": "workflows.nodes.webhook",
    "email": "workflows.nodes.email",
}

_loaded: dict[str, NodeType] = {}
log = structlog.get_logger(__name__)


def node_type(name: str) -> NodeType | None:
    """The registered node type called `name`, or None for an unknown type.

    A registered type whose node module cannot be imported comes back as an unavailable type
    (its runner is the module that failed), so validation names the reason."""
    if name in _loaded:
        return _loaded[name]
    path = NODE_TYPES.get(name) if isinstance(name, str) else None
    if path is None:
        return None
    try:
        node: NodeType = importlib.import_module(path).NODE
    except Exception:
        log.warning("node_type.unloadable", node_type=name, module=path, exc_info=True)
        return NodeType(type=name, label=name, group="Logic", icon="node", help="", runner=path)
    if node.type != name:
        raise ImportError(f"{path} defines node type {node.type!r}, registered as {name!r}")
    _loaded[name] = node
    return node


def get_node_type(name: str) -> NodeType:
    """Like `node_type`, for callers that hold a validated graph: an unknown type is a KeyError."""
    node = node_type(name)
    if node is None:
        raise KeyError(f"unknown node type {name!r}")
    return node


def node_types() -> list[NodeType]:
    """Every registered node type whose module loads, in palette order (group, then registry
    order). Types whose runner is missing are included and say so (`unavailable_reason`)."""
    nodes = [
        node for name in NODE_TYPES if (node := node_type(name)) is not None and name in _loaded
    ]
    return sorted(nodes, key=lambda n: GROUPS.index(n.group))
