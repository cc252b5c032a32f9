"""The workflow alert nodes (slack_alert, discord_alert, webhook, email): registered in the
"Notify" group, they send the findings that reach them, check the integration at run time, and
with only_new send only what the previous scan did not have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integrations.models import Delivery
from integrations.nodes import alerts as alert_node
from scans.engine.runtime import StepContext, StepFailed
from scans.models import ScanStep
from tests.integrations.conftest import finding
from tests.integrations.test_scan_notifications import RAISE_CSP, _run_scan
from tests.workers import wait_for
from workflows.graph import graph_validate
from workflows.nodes import get_node_type


@pytest.mark.smoke
def test_the_four_alert_nodes_are_in_the_notify_group() -> None:
    for name in ("slack_alert", "discord_alert", "webhook", "email"):
        node = get_node_type(name)
        assert node.group == "Notify" and node.is_available, node.unavailable_reason
        described = node.describe()
        assert [f["name"] for f in described["config"]] == [
            "integration",
            "min_severity",
            "only_new",
        ]


@pytest.mark.smoke
def test_an_alert_node_needs_an_integration_and_can_follow_any_node() -> None:
    nodes = [
        {"id": "web", "type": "http_probe", "config": {}, "x": 0, "y": 0},
        {"id": "tell", "type": "slack_alert", "config": {}, "x": 200, "y": 0},
    ]
    errors = graph_validate({"nodes": nodes, "edges": [{"from": "web", "to": "tell"}]})
    assert [(e.node, e.field) for e in errors] == [("tell", "integration")]
    # A node just dropped on the canvas has no integration yet: saved as a draft, not runnable.
    assert errors[0].draft_ok
    nodes[1]["config"] = {"integration": 3, "min_severity": "high"}
    assert graph_validate({"nodes": nodes, "edges": [{"from": "web", "to": "tell"}]}) == []


def _context(
    scan: Any,
    node_type: str,
    config: dict[str, Any],
    findings: list[Any],
    tmp_path: Path,
    lines: list[str],
) -> StepContext:
    return StepContext(
        scan_id=scan.pk, step_id=0, node_id="tell", node_type=node_type, team_id=scan.team_id,
        config={"min_severity": "info", "only_new": True, **config}, items=[], findings=findings,
        timeout_s=10, workdir=tmp_path, executor=None,  # type: ignore[arg-type]
        in_scope=lambda item: True, log=lines.append, heartbeat=lambda: None,
        is_cancelled=lambda: False,
    )  # fmt: skip


@pytest.mark.django_db
def test_only_new_sends_what_the_previous_scan_did_not_have(
    finished_scan: Any, make_integration: Any, receiver: Any, tmp_path: Path
) -> None:
    slack = make_integration("slack", receiver.url("/slack/new"))
    known, fresh, minor = (
        finding("high", "Known"),
        finding("high", "Fresh"),
        finding("low", "Minor"),
    )
    finished_scan([known])
    scan = finished_scan([known, fresh, minor])
    lines: list[str] = []

    config = {"integration": slack.pk, "min_severity": "medium"}
    alert_node.run(_context(scan, "slack_alert", config, [known, fresh, minor], tmp_path, lines))

    [delivery] = Delivery.objects.filter(integration=slack)
    assert [f["title"] for f in delivery.payload["findings"]] == ["Fresh"]
    assert delivery.event == "workflow" and delivery.scan_id == scan.pk
    assert f"queued delivery #{delivery.pk}" in lines[-1]

    alert_node.run(
        _context(
            scan, "slack_alert", {**config, "only_new": False}, [known, fresh], tmp_path, lines
        )
    )
    assert Delivery.objects.filter(integration=slack).count() == 2
    alert_node.run(_context(scan, "slack_alert", config, [known], tmp_path, lines))
    assert lines[-1] == "no new findings at or above medium: nothing sent"
    assert Delivery.objects.filter(integration=slack).count() == 2


@pytest.mark.django_db
def test_it_refuses_another_teams_integration_or_the_wrong_kind(
    finished_scan: Any, make_integration: Any, make_user: Any, receiver: Any, tmp_path: Path
) -> None:
    from accounts.models import Team

    stranger = Team.objects.get(personal_owner=make_user("stranger@example.test"))
    theirs = make_integration("slack", receiver.url("/slack/theirs"), team=stranger)
    discord = make_integration("discord", receiver.url("/discord/mine"))
    scan = finished_scan([finding("high", "x")])

    with pytest.raises(StepFailed, match="is not an integration of this team"):
        alert_node.run(_context(scan, "slack_alert", {"integration": theirs.pk}, [], tmp_path, []))
    with pytest.raises(StepFailed, match="slack_alert needs a slack one"):
        alert_node.run(_context(scan, "slack_alert", {"integration": discord.pk}, [], tmp_path, []))
    assert not Delivery.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_workflow_alert_node_posts_to_slack_on_a_real_worker(
    worker: Any, owner_api: Any, authorize: Any, make_workflow: Any, http_server: Any,
    receiver: Any, make_integration: Any, make_user: Any,
) -> None:  # fmt: skip
    from accounts.models import Team

    slack = make_integration("slack", receiver.url("/slack/alerts"))
    stranger = Team.objects.get(personal_owner=make_user("stranger@example.test"))
    theirs = make_integration("discord", receiver.url("/discord/theirs"), team=stranger)
    workflow = make_workflow(
        [
            {"id": "web", "type": "http_probe", "config": {}},
            {"id": "triage", "type": "rules", "config": RAISE_CSP},
            {"id": "tell", "type": "slack_alert", "config": {"integration": slack.pk, "min_severity": "high"}},
            {"id": "leak", "type": "discord_alert", "config": {"integration": theirs.pk}},
        ],
        [("web", "triage"), ("triage", "tell"), ("triage", "leak")],
        name="alerting",
    )  # fmt: skip

    scan = _run_scan(owner_api, workflow, authorize(http_server.url))

    [message] = receiver.wait_for("/slack/alerts")
    assert (
        message.json()["blocks"][0]["text"]["text"]
        == f"Scan #{scan.pk} (alerting): 1 finding from tell"
    )
    leak = ScanStep.objects.get(scan=scan, node_id="leak")
    assert leak.status == "failed"
    assert leak.error == f"integration #{theirs.pk} is not an integration of this team"
    assert scan.status == "failed"  # a misconfigured node is visible, not silent
    assert ScanStep.objects.get(scan=scan, node_id="tell").status == "completed"
    assert receiver.to("/discord/theirs") == []
    wait_for(lambda: Delivery.objects.get(integration=slack).status == "delivered", what="delivery")


def test_the_builder_offers_the_teams_integrations_of_the_nodes_kind_by_name(
    make_integration: Any, make_user: Any, user: Any, team: Any
) -> None:
    import re

    from django.test import Client

    from accounts.models import Team
    from workflows.services import workflow_create

    ops = make_integration("slack", "https://hooks.slack.com/services/T1/B1/a", name="#ops")
    sec = make_integration("slack", "https://hooks.slack.com/services/T1/B1/b", name="#secops")
    make_integration("discord", "https://discord.com/api/webhooks/1/x", name="Discord room")
    stranger = make_user("stranger@example.test")
    theirs = make_integration(
        "slack", "https://hooks.slack.com/services/T9/B9/z", name="#theirs",
        team=Team.objects.get(personal_owner=stranger),
    )  # fmt: skip
    graph = {"nodes": [{"id": "tell", "type": "slack_alert", "config": {"integration": 999_999},
                        "x": 0, "y": 0}], "edges": []}  # fmt: skip
    workflow = workflow_create(team=team, user=user, name="Alerts", description="", graph=graph)
    browser = Client()
    browser.force_login(user)
    url = f"/workflows/{workflow.pk}/nodes/tell"

    panel = browser.get(url).content.decode()
    select = re.search(r'<select name="integration".*?</select>', panel, flags=re.S)
    assert select is not None, panel
    options = re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', select[0])
    # The team's Slack integrations by name; the id the node held (gone) shown as such.
    assert options == [
        ("", "—"),
        (str(ops.pk), "#ops"),
        (str(sec.pk), "#secops"),
        ("999999", "#999999: not available to this node any more"),
    ]

    def save(integration: Any) -> Any:
        workflow.refresh_from_db()
        return browser.post(url, {"revision": workflow.revision, "integration": integration,
                                  "min_severity": "high", "only_new": "on"})  # fmt: skip

    assert "not one of this team" in save(999_999).content.decode()
    assert "Select a valid choice" in save(theirs.pk).content.decode()
    save(sec.pk)
    workflow.refresh_from_db()
    [node] = workflow.graph["nodes"]
    assert node["config"] == {"integration": sec.pk, "min_severity": "high", "only_new": True}


@pytest.mark.django_db
def test_a_workflow_whose_alert_node_has_no_integration_yet_is_saved_but_not_run(
    user: Any, team: Any
) -> None:
    from scans.services import ScanRefused, scan_start
    from targets.services import target_create
    from workflows.services import workflow_create

    graph = {"nodes": [{"id": "ports", "type": "port_scan", "config": {}, "x": 0, "y": 0},
                       {"id": "tell", "type": "slack_alert", "config": {}, "x": 200, "y": 0}],
             "edges": [{"from": "ports", "to": "tell"}]}  # fmt: skip
    workflow = workflow_create(team=team, user=user, name="Draft", description="", graph=graph)
    target = target_create(team=team, user=user, value="127.0.0.1", note="lab")

    with pytest.raises(ScanRefused) as refused:
        scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)
    assert "tell.integration: is required" in str(refused.value)
