"""The report node (issue #20, the seed's "Report Export"): on a real worker it renders the
scan's PDF when it runs and hands it to the alert nodes after it: the webhook message that a
local receiver gets links it, and the e-mail carries it as an attachment."""

from __future__ import annotations

from typing import Any

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
