"""Discord webhooks: one embed (title linking to the scan, summary, counts by severity as inline
fields, the worst findings as fields, colour of the worst severity).

Limits honoured (discord.com/developers/docs/resources/message#embed-object-embed-limits): title
256, description 4096, at most 25 fields (name 256, value 1024), footer 2048, and 6000 characters
over the whole embed — findings that do not fit are summed up in a last "… and N more" field.
`allowed_mentions: {"parse": []}` and markdown escaping keep text from scanned systems from
pinging @everyone or hiding a link behind innocent words.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.kinds.chat import ChatWebhook, finding_details
from integrations.kinds.text import clip
from integrations.messages import Message, MessageFinding

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
MAX_FIELDS = 25
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
FINDINGS_SHOWN = 15
COLOURS = {
    "critical": 0xC026D3, "high": 0xEF4444, "medium": 0xF59E0B, "low": 0x3B82F6, "info": 0x64748B,
    "": 0x2DD4BF,
}  # fmt: skip
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()<@])")
_LINE_MARKUP = re.compile(r"^([#-])", re.MULTILINE)  # headings and list items


def escape(text: str) -> str:
    return _LINE_MARKUP.sub(r"\\\1", _MARKDOWN.sub(r"\\\1", text))


def _finding_field(finding: MessageFinding) -> dict[str, Any]:
    new = " (new)" if finding.is_new else ""
    name = clip(f"[{finding.severity.upper()}] {escape(finding.title)}{new}", FIELD_NAME_MAX)
    value = finding_details(finding, escape, escape(finding.location)) or "—"
    return {"name": name, "value": clip(value, FIELD_VALUE_MAX), "inline": False}


def _size(embed: dict[str, Any]) -> int:
    fields = sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    footer = len(embed.get("footer", {}).get("text", ""))
    return len(embed.get("title", "")) + len(embed.get("description", "")) + fields + footer


def render(message: Message) -> dict[str, Any]:
    """The JSON body for a Discord webhook."""
    embed: dict[str, Any] = {
        "title": clip(message.title, TITLE_MAX),
        "description": clip(escape(message.summary), DESCRIPTION_MAX),
        "color": COLOURS.get(message.worst_severity, COLOURS[""]),
        "footer": {"text": clip(f"Outpost · {message.team}", FOOTER_MAX)},
    }
    if message.scan_url:
        embed["url"] = message.scan_url
    fields = [
        {"name": severity.capitalize(), "value": str(count), "inline": True}
        for severity, count in message.counts.items()
    ]
    if message.report_url:
        fields.append({"name": "PDF report", "value": message.report_url[:1000], "inline": False})
    if message.scan_status:
        fields.append({"name": "Status", "value": message.scan_status, "inline": True})
    if message.new_total:
        fields.append({"name": "New", "value": str(message.new_total), "inline": True})
    shown = [_finding_field(f) for f in message.findings[:FINDINGS_SHOWN]]
    # Reserve one field and its characters for the "… and N more" line.
    more_reserve = 40
    while shown and (
        len(fields) + len(shown) > MAX_FIELDS - 1
        or _size({**embed, "fields": fields + shown}) > EMBED_TOTAL_MAX - more_reserve
    ):
        shown.pop()
    embed["fields"] = fields + shown
    more = message.findings_total - len(shown)
    if message.findings_total and more > 0:
        embed["fields"].append(
            {"name": "More", "value": f"… and {more} more finding(s)", "inline": False}
        )
    return {"username": "Outpost", "allowed_mentions": {"parse": []}, "embeds": [embed]}


# Discord's own hosts only (settings.INTEGRATIONS_DISCORD_HOSTS).
WEBHOOK = ChatWebhook("INTEGRATIONS_DISCORD_HOSTS", render)
allowed_hosts = WEBHOOK.allowed_hosts
deliver = WEBHOOK.deliver
