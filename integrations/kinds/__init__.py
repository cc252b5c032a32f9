"""Integration kinds: kind -> dotted path of the module that renders and sends a message.

A kind module defines `render(message) -> payload` (what the platform receives, testable without
a network) and `deliver(*, integration, message, delivery_id, secrets) -> Attempt`. Adding a kind
is one module and one line here (plus IntegrationKind and its tests).
"""

from __future__ import annotations

import importlib
from types import ModuleType

KINDS: dict[str, str] = {
    "slack": "integrations.kinds.slack",
    "discord": "integrations.kinds.discord",
    "webhook": "integrations.kinds.webhook",
    "email": "integrations.kinds.email",
}

# The workflow alert node of each kind.
NODE_KIND = {
    "slack_alert": "slack",
    "discord_alert": "discord",
    "webhook": "webhook",
    "email": "email",
}


def kind_module(kind: str) -> ModuleType:
    path = KINDS.get(kind)
    if path is None:
        raise KeyError(f"unknown integration kind {kind!r}")
    return importlib.import_module(path)


def kind_allowed_hosts(kind: str) -> list[str] | None:
    """The only hosts a kind's URL may name (Slack, Discord), or None when any host will do."""
    hosts = getattr(kind_module(kind), "allowed_hosts", None)
    return hosts() if callable(hosts) else None
