"""The report node (issue #20, the seed's "Report Export"): on a real worker it renders the
scan's PDF when it runs and hands it to the alert nodes after it: the webhook message that a
local receiver gets links it, and the e-mail carries it as an attachment; an alert after a
report node sends the report even when no finding reaches it."""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from integrations.kinds import email as email_kind
from integrations.messages import Message
from integrations.models import Delivery
from scans.models import Report, ScanStep
from tests.integrations.test_scan_notifications import RAISE_CSP, _run_scan
from tests.workers import wait_for
from workflows.nodes import get_node_type


def test_the_report_node_is_in_the_report_group_and_passes_on_what_it_gets() -> None:
    node = get_node_type("report")
    assert node.group == "Report" and node.passthrough and node.consumes_findings


def test_a_report_nodes_pdf_reaches_the_alerts_after_it(
    worker: Any, owner_api: Any, user: Any, authorize: Any, make_workflow: Any,
    http_server: Any, receiver: Any, make_integration: Any, settings: Any,
) -> None:  # fmt: skip
    hook = make_integration("webhook", receiver.url("/hooks/outpost"))
    inbox = make_integration("email", name="secops mail")
    workflow = make_workflow(
        [
            {"id": "web", "type": "http_probe", "config": {}},
            {"id": "triage", "type": "rules", "config": RAISE_CSP},
            {"id": "pdf", "type": "report", "config": {}},
            {"id": "tell", "type": "webhook", "config": {"integration": hook.pk}},
            {"id": "mail", "type": "email", "config": {"integration": inbox.pk}},
            {"id": "plain", "type": "webhook", "config": {"integration": hook.pk}},
        ],
        [("web", "triage"), ("triage", "pdf"), ("pdf", "tell"), ("pdf", "mail"),
         ("triage", "plain")],
        name="reporting",
    )  # fmt: skip

    scan = _run_scan(owner_api, workflow, authorize(http_server.url))
    pdf_step = ScanStep.objects.get(scan=scan, node_id="pdf")
    assert pdf_step.status == "completed", pdf_step.error
    report = Report.objects.get(scan=scan)
    assert report.status == "ready" and report.pages >= 1

    got = receiver.wait_for("/hooks/outpost", count=2)
    linked = [r.json() for r in got if r.json().get("report")]
    plain = [r.json() for r in got if not r.json().get("report")]
    assert len(linked) == 1 and len(plain) == 1  # only the alert after the report node
    url = linked[0]["report"]["url"]
    assert url.endswith(f"/scans/{scan.pk}/report.pdf") and linked[0]["report"]["id"] == report.pk

    # The link gives the PDF to a member of the team.
    browser = Client()
    browser.force_login(user)
    answer = browser.get("/" + url.split("://", 1)[1].split("/", 1)[1])
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content).startswith(b"%PDF")  # type: ignore[attr-defined]

    # The e-mail delivery carries the PDF as an attachment.
    delivery = wait_for(lambda: Delivery.objects.filter(integration=inbox).first(), what="mail")
    message = Message.from_dict(delivery.payload)
    assert message.report_id == report.pk
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    attempt = email_kind.deliver(
        integration=inbox, message=message, delivery_id=delivery.pk, secrets={}
    )
    assert attempt.ok, attempt.error
    [sent] = mail.outbox
    [(name, data, kind)] = sent.attachments
    assert name == f"outpost-scan-{scan.pk}-report.pdf" and kind == "application/pdf"
    assert data.startswith(b"%PDF") and "PDF report (attached)" in sent.body


DROP_ALL = {"rules": [{"field": "rule_id", "regex": ".*", "action": "drop"}]}


@pytest.mark.slow
@pytest.mark.parametrize("rules", [RAISE_CSP, DROP_ALL], ids=["with-findings", "without-findings"])
def test_every_alert_after_a_report_node_delivers_its_pdf_with_or_without_findings(
    rules: dict[str, Any], worker_cluster: Any, smtp_server: dict[str, Any], owner_api: Any,
    user: Any, make_user: Any, authorize: Any, make_workflow: Any, http_server: Any,
    receiver: Any, make_integration: Any,
) -> None:  # fmt: skip
    # The worker's mail goes to the local SMTP listener: nothing leaves the machine.
    worker_cluster.env["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_server['port']}"
    worker_cluster.start()
    alerts = {
        "slack": make_integration("slack", receiver.url("/slack/pdf")),
        "discord": make_integration("discord", receiver.url("/discord/pdf")),
        "webhook": make_integration("webhook", receiver.url("/hook/pdf")),
        "email": make_integration("email", name="secops mail"),
    }
    node_type = {"slack": "slack_alert", "discord": "discord_alert"}
    workflow = make_workflow(
        [
            {"id": "web", "type": "http_probe", "config": {}},
            {"id": "triage", "type": "rules", "config": rules},
            {"id": "pdf", "type": "report", "config": {}},
            *[
                {"id": kind, "type": node_type.get(kind, kind), "config": {"integration": i.pk}}
                for kind, i in alerts.items()
            ],
        ],
        [("web", "triage"), ("triage", "pdf"), *[("pdf", kind) for kind in alerts]],
        name="reporting",
    )

    scan = _run_scan(owner_api, workflow, authorize(http_server.url))
    assert scan.status == "completed", scan.error
    assert (scan.findings_count > 0) == (rules is RAISE_CSP)
    report = Report.objects.get(scan=scan)
    assert report.status == "ready"

    # The chat and webhook messages link the PDF, and say so when no finding came with it.
    link = re.compile(rf"https?://[^\s\"|<>]+/scans/{scan.pk}/report\.pdf")
    links = set()
    for path in ("/slack/pdf", "/discord/pdf", "/hook/pdf"):
        [got] = receiver.wait_for(path)
        links.update(link.findall(got.body.decode()))
    [hook] = receiver.to("/hook/pdf")
    assert hook.json()["report"]["id"] == report.pk
    assert (hook.json()["findings_total"] == 0) == (rules is DROP_ALL)
    if rules is DROP_ALL:
        assert "no new findings at or above info; PDF report" in hook.json()["title"]

    # The e-mail reached the SMTP listener with the PDF attached.
    wait_for(lambda: smtp_server["messages"] >= 1, what="the e-mail at the SMTP listener")
    [raw] = smtp_server["received"]
    mail_message = email.message_from_bytes(raw, policy=email.policy.default)
    pdfs = [
        part.get_content()
        for part in mail_message.iter_attachments()
        if part.get_content_type() == "application/pdf"
    ]
    assert len(pdfs) == 1 and pdfs[0].startswith(b"%PDF")

    # The one link serves the PDF to the scan's team only.
    [url] = links
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    stranger = Client()
    stranger.force_login(make_user("stranger@example.test"))
    assert stranger.get(path).status_code == 404
    member = Client()
    member.force_login(user)
    answer = member.get(path)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert b"".join(answer.streaming_content).startswith(b"%PDF")  # type: ignore[attr-defined]
