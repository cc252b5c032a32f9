"""What the chat kinds (Slack, Discord) share: an incoming webhook that receives the rendered
JSON, on the platform's own hosts only, and the one-line details of a finding."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from integrations.messages import Message, MessageFinding
from integrations.outbound import Attempt, post_json


@dataclass(frozen=True)
class ChatWebhook:
    """A platform's incoming webhook. It posts only to the hosts its setting lists: an "alert" URL
    pointing anywhere else would make Outpost a request relay (SSRF) behind a harmless-looking
    integration."""

    hosts_setting: str
    render: Callable[[Message], dict[str, Any]]

    def allowed_hosts(self) -> list[str]:
        return list(getattr(settings, self.hosts_setting))

    def deliver(
        self, *, integration: Any, message: Message, delivery_id: int, secrets: dict[str, Any]
    ) -> Attempt:
        body = json.dumps(self.render(message), separators=(",", ":")).encode()
        return post_json(str(secrets.get("url", "")), body, {}, allowed_hosts=self.allowed_hosts())


def finding_details(finding: MessageFinding, escape: Callable[[str], str], location: str) -> str:
    """`location` (already marked up), the component with its version and fixed version, the rule
    id and the tool, escaped for the platform and joined with " · " (empty ones left out)."""
    details = [location]
    if finding.component:
        version = f" {finding.version}" if finding.version else ""
        fixed = f" (fixed in {finding.fixed_version})" if finding.fixed_version else ""
        details.append(escape(f"{finding.component}{version}{fixed}"))
    details += [escape(finding.rule_id), escape(finding.tool)]
    return " · ".join(d for d in details if d)
