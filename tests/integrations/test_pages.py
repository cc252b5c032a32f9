"""The pages: integrations with their rules, add/edit/test/delete, the delivery log, schedules
(pre-filled from a scan), pause/resume, sending a scan on demand, e-mail through the mail backend."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Role
from integrations.delivery import delivery_send
from integrations.models import Delivery, Integration, NotificationRule, ScanSchedule
from tests.integrations.conftest import SIGNING_SECRET, finding

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery 9"


@pytest.fixture
def browser(user: Any) -> Client:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_adding_a_webhook_shows_it_masked_and_logs_a_test_message(
    browser: Client, receiver: Any, settings: Any
) -> None:
    url = receiver.url("/hooks/abcdefghijklmnopqrstuvwxyz")
    answer = browser.post(
        "/integrations/new/webhook",
        {"name": "SIEM", "webhook_url": url, "signing_secret": SIGNING_SECRET, "is_enabled": "on"},
    )
    integration = Integration.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/integrations/{integration.pk}/"

    page = browser.get(f"/integrations/{integration.pk}/").content.decode()
    assert "/…wxyz" in page and url not in page and SIGNING_SECRET not in page
    tested = browser.post(f"/integrations/{integration.pk}/test", HTTP_HX_REQUEST="true")
    assert tested.status_code == 200
    assert "Test message" in tested.content.decode() and "pending" in tested.content.decode()
    delivery_send(Delivery.objects.get().pk)
    log = browser.get(f"/integrations/{integration.pk}/deliveries").content.decode()
    assert "delivered" in log and "1 attempt" in log
    listing = browser.get("/integrations/").content.decode()
    assert "SIEM" in listing and url not in listing


def test_form_errors_are_shown_next_to_the_fields(browser: Client) -> None:
    answer = browser.post("/integrations/new/slack", {"name": "x", "webhook_url": "gopher://x"})
    assert answer.status_code == 400
    assert "must be an http:// or https:// URL" in answer.content.decode()
    answer = browser.post("/integrations/new/email", {"name": "x", "recipients": "nope"})
    assert answer.status_code == 400 and "is not an e-mail address" in answer.content.decode()
    assert browser.get("/integrations/new/sms").status_code == 404


def test_editing_keeps_the_secret_unless_a_new_one_is_given(
    browser: Client, make_integration: Any, receiver: Any
) -> None:
    hook = make_integration("webhook", receiver.url("/hooks/old-path-0000"))
    browser.post(
        f"/integrations/{hook.pk}/edit",
        {"name": "renamed", "webhook_url": "", "signing_secret": ""},
    )
    hook.refresh_from_db()
    assert hook.name == "renamed" and not hook.is_enabled  # the box was not ticked
    assert hook.secrets() == {
        "url": receiver.url("/hooks/old-path-0000"),
        "signing_secret": SIGNING_SECRET,
    }
    browser.post(
        f"/integrations/{hook.pk}/edit",
        {
            "name": "renamed",
            "webhook_url": receiver.url("/hooks/new-path-1111"),
            "is_enabled": "on",
        },
    )
    hook.refresh_from_db()
    assert hook.secrets()["url"].endswith("new-path-1111") and hook.is_enabled


def test_rules_are_added_toggled_and_deleted_on_the_integrations_page(
    browser: Client, make_integration: Any, receiver: Any
) -> None:
    slack = make_integration("slack", receiver.url("/slack/rules"))
    added = browser.post(
        "/integrations/rules/add",
        {"event": "new_finding", "min_severity": "critical", "integration": slack.pk},
        HTTP_HX_REQUEST="true",
    )
    assert added.status_code == 200 and "New finding" in added.content.decode()
    rule = NotificationRule.objects.get()
    assert rule.min_severity == "critical"
    duplicate = browser.post(
        "/integrations/rules/add",
        {"event": "new_finding", "min_severity": "high", "integration": slack.pk},
        HTTP_HX_REQUEST="true",
    )
    assert duplicate.status_code == 400 and "already has a rule" in duplicate.content.decode()
    browser.post(f"/integrations/rules/{rule.pk}/toggle", HTTP_HX_REQUEST="true")
    assert NotificationRule.objects.get().is_enabled is False
    browser.post(f"/integrations/rules/{rule.pk}/delete", HTTP_HX_REQUEST="true")
    assert not NotificationRule.objects.exists()


def test_viewers_see_but_cannot_change(
    make_member: Any, team: Any, make_integration: Any, receiver: Any
) -> None:
    slack = make_integration("slack", receiver.url("/slack/viewer"))
    viewer = make_member(team, Role.VIEWER, email="viewer@example.test")
    client = Client()
    client.login(email=viewer.email, password=PASSWORD)
    session = client.session
    session["team_id"] = team.pk
    session.save()

    page = client.get(f"/integrations/{slack.pk}/")
    assert page.status_code == 200 and "Send test" not in page.content.decode()
    assert client.post(f"/integrations/{slack.pk}/test").status_code == 403
    assert client.post(f"/integrations/{slack.pk}/delete").status_code == 403
    assert client.get("/integrations/new/slack").status_code == 403
    assert Integration.objects.filter(pk=slack.pk).exists() and not Delivery.objects.exists()


def test_another_teams_integration_is_a_404(
    browser: Client, make_integration: Any, make_user: Any, receiver: Any
) -> None:
    from accounts.models import Team

    stranger = Team.objects.get(personal_owner=make_user("stranger@example.test"))
    theirs = make_integration("slack", receiver.url("/slack/theirs"), team=stranger)
    assert browser.get(f"/integrations/{theirs.pk}/").status_code == 404
    assert browser.post(f"/integrations/{theirs.pk}/test").status_code == 404


def test_an_email_integration_sends_through_the_mail_backend(
    settings: Any, browser: Client, finished_scan: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    browser.post(
        "/integrations/new/email",
        {
            "name": "Security list",
            "recipients": "sec@example.test, Ops@Example.test",
            "is_enabled": "on",
        },
    )
    integration = Integration.objects.get()
    assert integration.recipients == ["sec@example.test", "ops@example.test"]
    scan = finished_scan([finding("critical", "Remote code execution")])

    sent = browser.post(
        f"/integrations/notify/scan/{scan.pk}",
        {"integration": integration.pk, "min_severity": "high"},
    )
    assert sent.status_code == 302
    assert delivery_send(Delivery.objects.get().pk) == "delivered"
    [message] = mail.outbox
    assert message.to == ["sec@example.test", "ops@example.test"]
    assert message.subject == f"[Outpost] Scan #{scan.pk} (nightly recon): 1 finding"
    assert "[CRITICAL] Remote code execution" in message.body
    assert f"/scans/{scan.pk}/" in message.body


def test_a_schedule_is_created_from_a_scan_and_paused_from_the_list(
    browser: Client, make_workflow: Any, authorize: Any, user: Any, team: Any
) -> None:
    from scans.services import scan_start

    target = authorize("127.0.0.1")
    workflow = make_workflow(
        [{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}], name="ports"
    )
    scan = scan_start(
        team=team,
        user=user,
        workflow=workflow,
        target_ids=[target.pk],
        consent=True,
        mode="dry_run",
    )

    form = browser.get(f"/integrations/schedules/new?scan={scan.pk}").content.decode()
    assert 'value="ports (scheduled)"' in form
    assert f'<option value="{workflow.pk}" selected>' in form
    assert f'value="{target.pk}"' in form and "checked" in form

    refused = browser.post(
        "/integrations/schedules/new",
        {
            "name": "nightly",
            "workflow": workflow.pk,
            "targets": [target.pk],
            "cadence": "cron",
            "cron": "0 2 * * *",
        },
    )
    assert refused.status_code == 400 and "authorized" in refused.content.decode()
    created = browser.post(
        "/integrations/schedules/new",
        {"name": "nightly", "workflow": workflow.pk, "targets": [target.pk], "cadence": "cron",
         "cron": "0 2 * * *", "authorize_targets": "on"},
    )  # fmt: skip
    assert created.status_code == 302
    schedule = ScanSchedule.objects.get()
    listing = browser.get("/integrations/schedules/").content.decode()
    assert (
        "cron 0 2 * * *" in listing and schedule.next_run_at.strftime("%Y-%m-%d %H:%M") in listing
    )

    paused = browser.post(f"/integrations/schedules/{schedule.pk}/pause", HTTP_HX_REQUEST="true")
    assert "paused" in paused.content.decode() and "Resume" in paused.content.decode()
    schedule.refresh_from_db()
    assert schedule.is_paused

    edited = browser.post(
        f"/integrations/schedules/{schedule.pk}/edit",
        {
            "name": "every six",
            "workflow": workflow.pk,
            "targets": [target.pk],
            "cadence": "every",
            "every_hours": 6,
        },
    )
    assert edited.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.name, schedule.every_hours, schedule.cron) == ("every six", 6, "")


def test_the_scan_page_links_to_notify_and_schedule(
    browser: Client, make_workflow: Any, authorize: Any, user: Any, team: Any
) -> None:
    from scans.services import scan_start

    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}])
    scan = scan_start(
        team=team,
        user=user,
        workflow=workflow,
        target_ids=[target.pk],
        consent=True,
        mode="dry_run",
    )
    page = browser.get(f"/scans/{scan.pk}/").content.decode()
    assert f"/integrations/notify/scan/{scan.pk}" in page
    assert f"/integrations/schedules/new?scan={scan.pk}" in page
    nav = browser.get("/integrations/").content.decode()
    assert nav.index(">Integrations</a>") < nav.index(">API keys</a>")


def test_the_workflow_panel_links_to_a_prefilled_schedule(
    browser: Client, make_workflow: Any
) -> None:
    workflow = make_workflow(
        [{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}], name="perimeter"
    )
    panel = browser.get(f"/workflows/{workflow.pk}/panel").content.decode()
    assert f"/integrations/schedules/new?workflow={workflow.pk}" in panel
    form = browser.get(f"/integrations/schedules/new?workflow={workflow.pk}").content.decode()
    assert 'value="perimeter (scheduled)"' in form
    assert f'<option value="{workflow.pk}" selected>' in form
