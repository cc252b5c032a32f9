"""Slack blocks, Discord embeds and the e-mail text: content, platform size limits, and text from
scanned systems that must not turn into mentions or links."""

from __future__ import annotations

import json

import pytest

from integrations.kinds import discord, email, slack
from integrations.messages import Message, MessageFinding


def _message(findings: int = 3, title_length: int = 40) -> Message:
    severities = ["critical", "high", "medium", "low", "info"]
    shown = [
        MessageFinding(
            severity=severities[i % 5], title=f"Finding {i} " + "x" * title_length,
            location=f"https://app.example.test/{'p' * 200}/{i}", rule_id=f"CVE-2024-{i:04d}",
            tool="nuclei", component="openssl", version="1.1.1", fixed_version="3.0.0",
            fingerprint=f"{i:064d}", is_new=i % 2 == 0,
        )
        for i in range(min(findings, 25))
    ]  # fmt: skip
    counts: dict[str, int] = {}
    for i in range(findings):
        counts[severities[i % 5]] = counts.get(severities[i % 5], 0) + 1
    return Message(
        event="new_finding", title="Scan #7 (nightly): 3 new findings",
        summary="nightly on example.test: 1 critical · 1 high · 1 medium.", team="Blue team",
        scan_id=7, scan_url="http://localhost:8000/scans/7/", workflow="nightly",
        scan_status="completed", targets=["example.test"], counts=counts, findings=shown,
        findings_total=findings, new_total=sum(f.is_new for f in shown),
    )  # fmt: skip


@pytest.mark.smoke
def test_slack_gets_blocks_with_counts_findings_and_a_link() -> None:
    body = slack.render(_message())

    header, summary, divider, *rest = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Scan #7 (nightly): 3 new findings"},
    }
    assert "*Critical*\n1" in [f["text"] for f in summary["fields"]]
    assert divider == {"type": "divider"}
    assert rest[0]["text"]["text"].startswith("*CRITICAL* Finding 0")
    assert "_(new)_" in rest[0]["text"]["text"]
    assert rest[-1]["elements"][0]["url"] == "http://localhost:8000/scans/7/"
    assert body["text"].startswith("Scan #7 (nightly)")


@pytest.mark.smoke
def test_slack_stays_within_its_limits_for_a_huge_scan() -> None:
    body = slack.render(_message(findings=5000, title_length=5000))

    assert len(body["blocks"]) <= 50
    for block in body["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    assert body["blocks"][-2]["elements"][0]["text"] == "… and 4990 more finding(s)"
    assert len(body["text"]) <= 3000


@pytest.mark.smoke
def test_discord_gets_one_embed_with_counts_and_findings() -> None:
    body = discord.render(_message())

    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["title"] == "Scan #7 (nightly): 3 new findings"
    assert embed["url"] == "http://localhost:8000/scans/7/"
    assert embed["color"] == discord.COLOURS["critical"]
    names = [f["name"] for f in embed["fields"]]
    assert names[:3] == ["Critical", "High", "Medium"]
    assert names[3:5] == ["Status", "New"]
    assert names[5].startswith("[CRITICAL] Finding 0") and names[5].endswith("(new)")


@pytest.mark.smoke
def test_discord_stays_within_6000_characters_and_25_fields() -> None:
    body = discord.render(_message(findings=5000, title_length=5000))

    [embed] = body["embeds"]
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000
    assert len(embed["fields"]) <= 25
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in embed["fields"])
    shown = sum(1 for f in embed["fields"] if f["name"].startswith("["))
    assert embed["fields"][-1]["value"] == f"… and {5000 - shown} more finding(s)"
    assert len(json.dumps(body)) < 20000


@pytest.mark.smoke
def test_text_from_a_scanned_page_cannot_ping_or_hide_a_link() -> None:
    message = _message(findings=1)
    message.findings[0].title = "<!channel> [click me](https://evil.example) @everyone"

    slack_text = slack.render(message)["blocks"][3]["text"]["text"]
    assert "<!channel>" not in slack_text and "&lt;!channel&gt;" in slack_text
    discord_name = discord.render(message)["embeds"][0]["fields"][-1]["name"]
    assert "[click me](https" not in discord_name
    assert r"\[click me\]\(https://evil.example\)" in discord_name
    assert r"\@everyone" in discord_name


@pytest.mark.smoke
def test_the_email_is_plain_text_with_the_worst_findings_and_the_link() -> None:
    content = email.render(_message())

    assert content["subject"] == "[Outpost] Scan #7 (nightly): 3 new findings"
    assert "[CRITICAL] Finding 0" in content["body"]
    assert "http://localhost:8000/scans/7/" in content["body"]
    multiline = _message()
    multiline.title = "evil\r\nBcc: everyone@example.test"
    assert "\n" not in email.render(multiline)["subject"]


def test_a_report_nodes_pdf_is_linked_in_slack_discord_and_webhook_and_named_in_e_mail() -> None:
    from integrations.kinds import webhook

    message = _message()
    message.report_url, message.report_id = "https://outpost.example.com/scans/7/report.pdf", 3
    assert any(
        block.get("text", {}).get("text") == f"<{message.report_url}|PDF report>"
        for block in slack.render(message)["blocks"]
    )
    embed = discord.render(message)["embeds"][0]
    assert {"name": "PDF report", "value": message.report_url, "inline": False} in embed["fields"]
    assert webhook.render(message)["report"] == {"id": 3, "url": message.report_url}
    assert f"PDF report (attached): {message.report_url}" in email.render(message)["body"]
    # Without a report node before the alert, nothing is said about a report.
    plain = _message()
    assert webhook.render(plain)["report"] is None
    assert "PDF report" not in json.dumps(slack.render(plain))
