"""Notification rules end to end on a real worker: a scan that finds a new high finding sends
exactly one Slack-shaped and one Discord-shaped message (and a signed webhook) to a local
receiver; the same scan again finds nothing new and sends nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django_q.models import Task

from integrations.models import Delivery, DeliveryStatus, Integration
from integrations.notify import rules_evaluate
from integrations.services import rule_create
from scans.models import Finding, Scan
from tests.integrations.conftest import SIGNING_SECRET
from tests.integrations.test_webhook_signature import receiver_accepts
from tests.scanning import wait_scan_done
from tests.workers import wait_for

# http_probe finds missing security headers (info over plain HTTP); the rules node raises one of
# them to high, so the scan has exactly one high finding and it is new.
RAISE_CSP = {
    "rules": [
        {"field": "rule_id", "regex": "^missing-csp$", "action": "set_severity", "value": "high"}
    ]
}


def _scan_workflow(make_workflow: Any) -> Any:
    return make_workflow(
        [{"id": "web", "type": "http_probe", "config": {}}, {"id": "triage", "type": "rules", "config": RAISE_CSP}],
        [("web", "triage")],
        name="web headers",
    )  # fmt: skip


def _run_scan(api: Any, workflow: Any, target: Any) -> Scan:
    answer = api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": True},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    return wait_scan_done(answer.json()["id"])


def _rules_done(scan: Scan) -> Task:
    return wait_for(
        lambda: Task.objects.filter(name=f"rules-scan-{scan.pk}").first(),
        timeout_s=60, what=f"the notification rules of scan #{scan.pk} to run",
    )  # fmt: skip


def _all_final() -> bool:
    return not Delivery.objects.exclude(
        status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]
    ).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_new_high_finding_sends_one_slack_and_one_discord_message(
    worker: Any, owner_api: Any, user: Any, team: Any, authorize: Any, make_workflow: Any,
    http_server: Any, receiver: Any, make_integration: Any,
) -> None:  # fmt: skip
    slack = make_integration("slack", receiver.url("/slack/T01/B02/secretpath"))
    discord = make_integration("discord", receiver.url("/discord/123/secrettoken"))
    hook = make_integration("webhook", receiver.url("/hooks/outpost"))
    quiet = make_integration("slack", receiver.url("/slack/quiet"), name="critical only")
    for integration in (slack, discord, hook):
        rule_create(
            team=team,
            user=user,
            event="new_finding",
            integration_id=integration.pk,
            min_severity="high",
        )
    rule_create(
        team=team, user=user, event="new_finding", integration_id=quiet.pk, min_severity="critical"
    )
    target = authorize(http_server.url)
    workflow = _scan_workflow(make_workflow)

    scan = _run_scan(owner_api, workflow, target)
    assert scan.status == "completed", scan.error
    assert Finding.objects.get(scan=scan, severity="high").rule_id == "missing-csp"
    _rules_done(scan)
    wait_for(_all_final, timeout_s=60, what="the deliveries to be sent")

    [slack_message] = receiver.to("/slack/T01/B02/secretpath")
    [discord_message] = receiver.to("/discord/123/secrettoken")
    [webhook_message] = receiver.to("/hooks/outpost")
    assert receiver.to("/slack/quiet") == []  # no new critical finding

    blocks = slack_message.json()["blocks"]
    assert blocks[0]["text"]["text"] == f"Scan #{scan.pk} (web headers): 1 new finding"
    assert {"type": "mrkdwn", "text": "*High*\n1"} in blocks[1]["fields"]
    findings = [b["text"]["text"] for b in blocks if b["type"] == "section"][1:]
    assert len(findings) == 1 and findings[0].startswith("*HIGH*") and "missing-csp" in findings[0]
    assert blocks[-1]["elements"][0]["url"].endswith(f"/scans/{scan.pk}/")

    [embed] = discord_message.json()["embeds"]
    assert embed["title"] == f"Scan #{scan.pk} (web headers): 1 new finding"
    assert [f["name"] for f in embed["fields"] if f["name"].startswith("[")] == [
        f"[HIGH] {Finding.objects.get(scan=scan, severity='high').title} (new)"
    ]
    assert discord_message.json()["allowed_mentions"] == {"parse": []}

    assert receiver_accepts(webhook_message.headers, webhook_message.body, SIGNING_SECRET)
    assert webhook_message.json()["event"] == "new_finding"
    assert webhook_message.json()["counts"] == {"high": 1}
    assert webhook_message.json()["findings"][0]["is_new"] is True

    deliveries = Delivery.objects.filter(scan=scan)
    assert deliveries.count() == 3
    assert set(deliveries.values_list("status", flat=True)) == {"delivered"}

    # The same scan again: nothing new, nothing sent.
    again = _run_scan(owner_api, workflow, target)
    assert again.status == "completed"
    assert _rules_done(again).success
    assert len(receiver.requests) == 3
    assert not Delivery.objects.filter(scan=again).exists()

    # The worker's own log never names a webhook URL.
    log = worker.log()
    assert "delivery.delivered" in log
    for integration in (slack, discord, hook):
        assert integration.secrets()["url"] not in log
    assert "secretpath" not in log and "secrettoken" not in log


@pytest.mark.django_db
def test_one_message_per_integration_and_scan_even_with_several_rules(
    team: Any, user: Any, finished_scan: Any, make_integration: Any, receiver: Any
) -> None:
    from tests.integrations.conftest import finding

    slack = make_integration("slack", receiver.url("/slack/both"))
    rule_create(team=team, user=user, event="scan_completed", integration_id=slack.pk)
    rule_create(
        team=team, user=user, event="new_finding", integration_id=slack.pk, min_severity="medium"
    )
    scan = finished_scan(
        [finding("medium", "Outdated jQuery"), finding("low", "Banner", rule_id="b")]
    )

    assert rules_evaluate(scan.pk) == "1 message(s) queued"
    assert rules_evaluate(scan.pk) == "0 message(s) queued"  # a repeated signal sends nothing
    [delivery] = Delivery.objects.filter(integration=slack)
    assert delivery.event == "new_finding"
    assert delivery.payload["counts"] == {"medium": 1}


@pytest.mark.django_db
def test_completed_and_failed_rules_send_the_summary(
    team: Any, user: Any, finished_scan: Any, make_integration: Any, receiver: Any
) -> None:
    from tests.integrations.conftest import finding

    done = make_integration("discord", receiver.url("/discord/done"))
    broken = make_integration("webhook", receiver.url("/hooks/broken"))
    rule_create(team=team, user=user, event="scan_completed", integration_id=done.pk)
    rule_create(team=team, user=user, event="scan_failed", integration_id=broken.pk)

    completed = finished_scan([finding("low", "Banner")])
    failed = finished_scan([], status="failed", error="web: connection refused")
    dry_run = finished_scan([], mode=Scan.Mode.DRY_RUN)
    rules_evaluate(completed.pk)
    rules_evaluate(failed.pk)

    assert rules_evaluate(dry_run.pk) == "dry run: no notifications"
    [sent_done] = Delivery.objects.filter(integration=done)
    assert sent_done.event == "scan_completed" and sent_done.scan_id == completed.pk
    [sent_failed] = Delivery.objects.filter(integration=broken)
    assert sent_failed.event == "scan_failed"
    assert "connection refused" in sent_failed.payload["summary"]


@pytest.mark.django_db
def test_disabled_rules_and_integrations_stay_quiet(
    team: Any, user: Any, finished_scan: Any, make_integration: Any, receiver: Any
) -> None:
    from tests.integrations.conftest import finding

    off = make_integration("slack", receiver.url("/slack/off"))
    rule_create(team=team, user=user, event="scan_completed", integration_id=off.pk)
    Integration.objects.filter(pk=off.pk).update(is_enabled=False)
    muted = make_integration("slack", receiver.url("/slack/muted"))
    rule_create(
        team=team, user=user, event="scan_completed", integration_id=muted.pk, is_enabled=False
    )

    assert rules_evaluate(finished_scan([finding("high", "x")]).pk) == "no rules apply"
