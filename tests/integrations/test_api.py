"""The integrations API: CRUD with strict serializers and write-only secrets, test message,
delivery log, the slack/discord shorthands, notification rules, notify on demand, tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Role
from integrations.models import Delivery, Integration, NotificationRule
from tests.integrations.conftest import SIGNING_SECRET, finding

pytestmark = pytest.mark.django_db


def test_integrations_are_created_listed_changed_and_deleted(owner_api: Any, receiver: Any) -> None:
    created = owner_api.post(
        "/api/v1/integrations",
        {"kind": "webhook", "name": "SIEM", "webhook_url": receiver.url("/in/abcdefghijklmnop"),
         "signing_secret": SIGNING_SECRET},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["kind"] == "webhook" and body["has_signing_secret"] is True
    assert body["destination"].endswith("/…mnop")
    pk = body["id"]

    listed = owner_api.get("/api/v1/integrations?kind=webhook").json()
    assert [i["id"] for i in listed["results"]] == [pk]
    changed = owner_api.patch(
        f"/api/v1/integrations/{pk}", {"name": "SIEM (prod)", "is_enabled": False}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "SIEM (prod)" and changed.json()["is_enabled"] is False
    assert Integration.objects.get(pk=pk).secrets()["signing_secret"] == SIGNING_SECRET

    assert owner_api.delete(f"/api/v1/integrations/{pk}").status_code == 204
    assert not Integration.objects.filter(pk=pk).exists()


def test_bad_input_is_a_400_naming_the_field(owner_api: Any) -> None:
    cases = [
        ({"kind": "slack", "name": "x", "webhook_url": "ftp://example.test/x"}, "webhook_url"),
        ({"kind": "slack", "name": "x"}, "webhook_url"),
        ({"kind": "webhook", "name": "x", "webhook_url": "https://example.test/h", "signing_secret": "short"}, "signing_secret"),
        ({"kind": "email", "name": "x", "recipients": ["not-an-address"]}, "recipients"),
        ({"kind": "email", "name": "x", "recipients": []}, "recipients"),
        ({"kind": "sms", "name": "x"}, "kind"),
        ({"kind": "slack", "name": "x", "webhook_url": "https://e.test/h", "colour": "red"}, "colour"),
        ({"kind": "slack", "name": "", "webhook_url": "https://e.test/h"}, "name"),
    ]  # fmt: skip
    for payload, field in cases:
        answer = owner_api.post("/api/v1/integrations", payload, format="json")
        assert answer.status_code == 400, (payload, answer.json())
        assert field in answer.json()["errors"], (payload, answer.json())
    assert not Integration.objects.exists()


def test_slack_and_discord_shorthands(owner_api: Any, receiver: Any) -> None:
    answer = owner_api.post(
        "/api/v1/integrations/slack", {"webhook_url": receiver.url("/s/1")}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["kind"] == "slack" and answer.json()["name"] == "Slack"
    owner_api.post(
        "/api/v1/integrations/discord", {"name": "ops", "webhook_url": receiver.url("/d/1")},
        format="json",
    )  # fmt: skip
    assert [i["kind"] for i in owner_api.get("/api/v1/integrations/slack").json()] == ["slack"]
    assert [i["name"] for i in owner_api.get("/api/v1/integrations/discord").json()] == ["ops"]


def test_send_test_queues_a_delivery_listed_in_the_log(
    owner_api: Any, make_integration: Any, receiver: Any
) -> None:
    integration = make_integration("slack", receiver.url("/s/test"))
    answer = owner_api.post(f"/api/v1/integrations/{integration.pk}/test")
    assert answer.status_code == 202
    assert answer.json()["event"] == "test" and answer.json()["status"] == "pending"

    log = owner_api.get(f"/api/v1/integrations/{integration.pk}/deliveries").json()
    assert [d["id"] for d in log["results"]] == [answer.json()["id"]]


def test_other_teams_integrations_are_404_and_viewers_cannot_write(
    owner_api: Any, make_integration: Any, make_user: Any, make_member: Any, team: Any,
    issue_key: Any, api: Any, receiver: Any,
) -> None:  # fmt: skip
    from accounts.models import Team

    mine = make_integration("slack", receiver.url("/s/mine"))
    stranger = make_user("stranger@example.test")
    theirs = make_integration(
        "slack", receiver.url("/s/theirs"), team=Team.objects.get(personal_owner=stranger)
    )
    assert owner_api.get(f"/api/v1/integrations/{theirs.pk}").status_code == 404
    assert owner_api.post(f"/api/v1/integrations/{theirs.pk}/test").status_code == 404
    assert owner_api.delete(f"/api/v1/integrations/{theirs.pk}").status_code == 404

    viewer = make_member(team, Role.VIEWER)
    viewer_api = api(issue_key(viewer, team).raw_key)
    assert viewer_api.get(f"/api/v1/integrations/{mine.pk}").status_code == 200
    assert viewer_api.post(f"/api/v1/integrations/{mine.pk}/test").status_code == 403
    denied = viewer_api.post(
        "/api/v1/integrations/slack", {"webhook_url": receiver.url("/x")}, format="json"
    )
    assert denied.status_code == 403
    assert Delivery.objects.count() == 0


def test_notification_rules_crud(owner_api: Any, make_integration: Any, receiver: Any) -> None:
    slack = make_integration("slack", receiver.url("/s/rules"))
    created = owner_api.post(
        "/api/v1/notification-rules",
        {"event": "new_finding", "integration": slack.pk, "min_severity": "high"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    rule_id = created.json()["id"]
    again = owner_api.post(
        "/api/v1/notification-rules", {"event": "new_finding", "integration": slack.pk},
        format="json",
    )  # fmt: skip
    assert again.status_code == 400 and "event" in again.json()["errors"]
    bad = owner_api.post(
        "/api/v1/notification-rules", {"event": "scan_completed", "integration": 99999},
        format="json",
    )  # fmt: skip
    assert bad.status_code == 400 and "integration" in bad.json()["errors"]

    changed = owner_api.patch(
        f"/api/v1/notification-rules/{rule_id}", {"min_severity": "critical", "is_enabled": False},
        format="json",
    )  # fmt: skip
    assert changed.json()["min_severity"] == "critical" and changed.json()["is_enabled"] is False
    assert owner_api.delete(f"/api/v1/notification-rules/{rule_id}").status_code == 204
    assert not NotificationRule.objects.exists()


def test_notify_sends_a_scans_findings_on_demand(
    owner_api: Any, make_integration: Any, finished_scan: Any, receiver: Any
) -> None:
    slack = make_integration("slack", receiver.url("/s/notify"))
    scan = finished_scan([finding("critical", "RCE"), finding("info", "Banner", rule_id="banner")])

    answer = owner_api.post(
        f"/api/v1/scans/{scan.pk}/notify", {"integration": slack.pk, "min_severity": "high"},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 202, answer.json()
    delivery = Delivery.objects.get(pk=answer.json()["id"])
    assert delivery.scan_id == scan.pk and delivery.event == "manual"
    assert delivery.payload["counts"] == {"critical": 1}

    alias = owner_api.post("/api/v1/actions/send-slack", {"scan_id": scan.pk}, format="json")
    assert alias.status_code == 202, alias.json()
    assert Delivery.objects.filter(integration=slack, scan=scan).count() == 2

    discord = make_integration("discord", receiver.url("/d/notify"))
    wrong_kind = owner_api.post(
        "/api/v1/actions/send-slack", {"scan_id": scan.pk, "integration": discord.pk}, format="json"
    )
    assert wrong_kind.status_code == 400
    assert (
        owner_api.post(
            "/api/v1/scans/999999/notify", {"integration": slack.pk}, format="json"
        ).status_code
        == 404
    )
    unknown = owner_api.post(
        f"/api/v1/scans/{scan.pk}/notify", {"integration": 999999}, format="json"
    )
    assert unknown.status_code == 400 and "integration" in unknown.json()["errors"]


def test_the_openapi_schema_documents_the_endpoints(owner_api: Any) -> None:
    schema = owner_api.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/integrations", "/api/v1/integrations/{id}", "/api/v1/integrations/{id}/test",
        "/api/v1/integrations/{id}/deliveries", "/api/v1/integrations/slack",
        "/api/v1/integrations/discord", "/api/v1/notification-rules", "/api/v1/schedules",
        "/api/v1/schedules/{id}/pause", "/api/v1/schedules/{id}/resume",
        "/api/v1/scans/{id}/notify", "/api/v1/actions/send-slack",
    ):  # fmt: skip
        assert path in paths, path
    create = paths["/api/v1/integrations"]["post"]["requestBody"]["content"]["application/json"]
    assert create["schema"]["$ref"].endswith("IntegrationCreateRequest")
