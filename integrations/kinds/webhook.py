"""Generic webhooks: the whole message as JSON, signed with HMAC-SHA256 so the receiver can tell
it came from Outpost and was not replayed (README "Integrations and schedules" documents it).

Headers: `X-Outpost-Event`, `X-Outpost-Delivery` (the same on every retry of one message: use it
to drop duplicates), `X-Outpost-Timestamp` (Unix seconds of this attempt) and
`X-Outpost-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the signing secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from integrations.messages import Message
from integrations.outbound import Attempt, post_json

SCHEMA_VERSION = 1


def render(message: Message, *, delivery_id: int = 0) -> dict[str, Any]:
    data = message.to_dict()
    return {
        "version": SCHEMA_VERSION,
        "delivery_id": delivery_id,
        "event": data.pop("event"),
        "title": data.pop("title"),
        "summary": data.pop("summary"),
        "team": data.pop("team"),
        "scan": {
            "id": data.pop("scan_id"),
            "url": data.pop("scan_url"),
            "workflow": data.pop("workflow"),
            "status": data.pop("scan_status"),
            "targets": data.pop("targets"),
        },
        "counts": data.pop("counts"),
        "findings_total": data.pop("findings_total"),
        "new_total": data.pop("new_total"),
        "findings": data.pop("findings"),
        "assets": data.pop("assets", []),
        "assets_total": data.pop("assets_total", 0),
        "report": {"id": data.pop("report_id", None), "url": data.pop("report_url", "")}
        if data.get("report_url")
        else None,
    }


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>")."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def deliver(
    *, integration: Any, message: Message, delivery_id: int, secrets: dict[str, Any]
) -> Attempt:
    body = json.dumps(render(message, delivery_id=delivery_id), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "X-Outpost-Event": message.event,
        "X-Outpost-Delivery": str(delivery_id),
        "X-Outpost-Timestamp": timestamp,
        "X-Outpost-Signature": signature(str(secrets.get("signing_secret", "")), timestamp, body),
    }
    return post_json(str(secrets.get("url", "")), body, headers)
