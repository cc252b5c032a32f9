"""Slack incoming webhooks: Block Kit blocks (header, summary with counts by severity, the worst
findings, a button to the scan) and a plain `text` fallback for notifications.

Limits honoured (api.slack.com/reference/block-kit): at most 50 blocks, section text 3000
characters, 10 fields per section of 2000 characters, header 150, button text 75 and URL 3000.
Finding text comes from scanned systems (page titles, banners), so `&`, `<` and `>` are escaped:
nothing a target writes can become a link or an @channel mention.
"""

from __future__ import annotations

from typing import Any

from integrations.kinds.chat import ChatWebhook, finding_details
from integrations.kinds.text import clip
from integrations.messages import Message, MessageFinding, counts_text

MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
MAX_FIELDS = 10
HEADER_MAX = 150
FALLBACK_MAX = 3000
FINDINGS_SHOWN = 10


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finding_text(finding: MessageFinding) -> str:
    new = " _(new)_" if finding.is_new else ""
    head = f"*{finding.severity.upper()}* {escape(finding.title)}{new}"
    location = f"`{escape(finding.location)}`" if finding.location else ""
    return clip(f"{head}\n{finding_details(finding, escape, location)}", SECTION_TEXT_MAX)


def render(message: Message) -> dict[str, Any]:
    """The JSON body for a Slack incoming webhook."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(message.title, HEADER_MAX)}}
    ]
    summary: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(escape(message.summary), SECTION_TEXT_MAX)},
    }
    fields = [
        {"type": "mrkdwn", "text": f"*{severity.capitalize()}*\n{count}"}
        for severity, count in message.counts.items()
    ]
    if message.scan_status:
        fields.append({"type": "mrkdwn", "text": f"*Status*\n{escape(message.scan_status)}"})
    if message.new_total:
        fields.append({"type": "mrkdwn", "text": f"*New*\n{message.new_total}"})
    if fields:
        summary["fields"] = [
            {**f, "text": clip(f["text"], FIELD_TEXT_MAX)} for f in fields[:MAX_FIELDS]
        ]
    blocks.append(summary)
    if message.findings:
        blocks.append({"type": "divider"})
        for finding in message.findings[:FINDINGS_SHOWN]:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": _finding_text(finding)}}
            )
    more = message.findings_total - min(len(message.findings), FINDINGS_SHOWN)
    if more > 0:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"… and {more} more finding(s)"}],
            }
        )
    if message.scan_url:
        label = f"Open scan #{message.scan_id}" if message.scan_id else "Open Outpost"
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": clip(label, 75)},
                        "url": message.scan_url[:3000],
                    }
                ],
            }
        )
    if message.report_url:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{message.report_url}|PDF report>"},
            }
        )
    fallback = f"{message.title}: {counts_text(message.counts)}"
    return {"text": clip(fallback, FALLBACK_MAX), "blocks": blocks[:MAX_BLOCKS]}


# Slack's own hosts only (settings.INTEGRATIONS_SLACK_HOSTS).
WEBHOOK = ChatWebhook("INTEGRATIONS_SLACK_HOSTS", render)
allowed_hosts = WEBHOOK.allowed_hosts
deliver = WEBHOOK.deliver
