"""The workflow pages and the builder's server side (the canvas glue is in tests/e2e)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import Role, Team, User
from tests.workflows.conftest import chain_graph
from workflows.models import Workflow
from workflows.services import workflow_export

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_graph(client: Client, workflow: Workflow, graph: dict[str, Any], revision: int) -> Any:
    return client.post(
        f"/workflows/{workflow.pk}/graph",
        json.dumps({"graph": graph, "revision": revision}),
        content_type="application/json",
    )


def test_the_list_shows_workflows_with_their_node_count(
    browser: Client, workflow: Workflow
) -> None:
    page = browser.get("/workflows/")
    assert page.status_code == 200
    assert b"Nightly" in page.content and b"never run" in page.content
    assert f'href="/workflows/{workflow.pk}/"'.encode() in page.content


def test_a_new_workflow_from_a_template_opens_in_the_builder(browser: Client, team: Team) -> None:
    answer = browser.post("/workflows/new", {"name": "", "template": "quick-recon"})
    created = Workflow.objects.get(team=team)
    assert answer.status_code == 302 and answer["Location"] == f"/workflows/{created.pk}/"
    assert created.name == "Quick recon" and created.node_count == 4
    blank = browser.post("/workflows/new", {"name": "", "template": ""})
    assert blank.status_code == 400 and b"Give the blank workflow a name" in blank.content


def test_import_and_duplicate_and_delete_from_the_list(browser: Client, workflow: Workflow) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("nightly.yaml", workflow_export(workflow, "yaml").encode())
    imported = browser.post("/workflows/import", {"file": upload})
    assert imported.status_code == 302
    assert Workflow.objects.filter(name="Nightly").count() == 2
    bad = browser.post("/workflows/import", {"file": SimpleUploadedFile("x.yaml", b"graph: [")})
    assert bad.status_code == 400 and b"Not valid YAML" in bad.content
    copy = browser.post(
        f"/workflows/{workflow.pk}/duplicate",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="workflow-list",
    )
    assert copy.status_code == 200 and b"Copy of Nightly" in copy.content
    gone = browser.post(
        f"/workflows/{workflow.pk}/delete", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="workflow-list"
    )
    assert gone.status_code == 200 and not Workflow.objects.filter(pk=workflow.pk).exists()


def test_the_builder_state_carries_server_rendered_escaped_node_html(
    browser: Client, workflow: Workflow, user: User
) -> None:
    from workflows.services import workflow_update

    graph = chain_graph()
    graph["nodes"][0]["label"] = "<script>alert(1)</script>"
    workflow_update(workflow=workflow, user=user, revision=1, graph=graph)
    state = browser.get(f"/workflows/{workflow.pk}/graph").json()
    assert state["revision"] == 2
    assert "<script>" not in state["html"]["ports"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in state["html"]["ports"]
    page = browser.get(f"/workflows/{workflow.pk}/")
    assert b"<script>alert(1)" not in page.content


def test_saving_the_canvas_validates_and_bumps_the_revision(
    browser: Client, workflow: Workflow
) -> None:
    graph = chain_graph()
    graph["nodes"][2]["x"] = 900
    saved = post_graph(browser, workflow, graph, 1)
    assert saved.status_code == 200 and saved.json()["revision"] == 2
    assert Workflow.objects.get(pk=workflow.pk).graph["nodes"][2]["x"] == 900


def test_a_refused_canvas_change_answers_the_saved_graph_to_go_back_to(
    browser: Client, workflow: Workflow
) -> None:
    graph = chain_graph()
    graph["edges"].append({"from": "wait", "to": "gate"})
    refused = post_graph(browser, workflow, graph, 1)
    assert refused.status_code == 400
    body = refused.json()
    assert "cycle" in body["errors"][0]["message"]
    assert body["revision"] == 1 and body["graph"] == Workflow.objects.get(pk=workflow.pk).graph


def test_a_stale_canvas_save_is_a_409_and_changes_nothing(
    browser: Client, workflow: Workflow
) -> None:
    assert post_graph(browser, workflow, chain_graph(), 1).status_code == 200
    before = Workflow.objects.get(pk=workflow.pk).graph
    graph = chain_graph()
    graph["nodes"].pop()
    graph["edges"].pop()
    stale = post_graph(browser, workflow, graph, 1)
    assert stale.status_code == 409 and stale.json() == {
        "detail": "stale revision: reload",
        "revision": 2,
    }
    assert Workflow.objects.get(pk=workflow.pk).graph == before


def test_the_node_form_is_generated_from_the_schema_and_errors_sit_by_the_field(
    browser: Client, workflow: Workflow
) -> None:
    form = browser.get(f"/workflows/{workflow.pk}/nodes/wait")
    assert form.status_code == 200
    assert (
        b'name="seconds"' in form.content
        and b'min="1"' in form.content
        and b'max="86400"' in form.content
    )
    bad = browser.post(
        f"/workflows/{workflow.pk}/nodes/wait", {"seconds": "0", "label": "", "revision": "1"}
    )
    assert bad.status_code == 200
    assert b"must be at least 1" in bad.content and b"has-error" in bad.content
    assert Workflow.objects.get(pk=workflow.pk).revision == 1
    good = browser.post(
        f"/workflows/{workflow.pk}/nodes/wait",
        {"seconds": "30", "label": "Cool down", "revision": "1"},
    )
    assert (
        good.status_code == 200 and json.loads(good["HX-Trigger"])["builder:saved"]["revision"] == 2
    )
    node = Workflow.objects.get(pk=workflow.pk).graph["nodes"][2]
    assert node["config"] == {"seconds": 30} and node["label"] == "Cool down"


def test_rules_rows_round_trip_through_the_form(
    browser: Client, workflow: Workflow, user: User
) -> None:
    from workflows.services import workflow_update

    graph = chain_graph()
    graph["nodes"].append({"id": "triage", "type": "rules", "config": {}, "x": 0, "y": 0})
    graph["edges"].append({"from": "gate", "to": "triage"})
    workflow_update(workflow=workflow, user=user, revision=1, graph=graph)
    data = {
        "revision": "2", "label": "",
        "rules-0-field": "rule_id", "rules-0-regex": "^CVE-2019-", "rules-0-action": "set_severity", "rules-0-value": "low",
        "rules-1-field": "title", "rules-1-regex": "(a+)+", "rules-1-action": "drop", "rules-1-value": "",
        "rules-2-field": "", "rules-2-regex": "", "rules-2-action": "", "rules-2-value": "",
    }  # fmt: skip
    bad = browser.post(f"/workflows/{workflow.pk}/nodes/triage", data)
    assert b"a quantifier may not apply" in bad.content
    data["rules-1-regex"] = "fixture"
    browser.post(f"/workflows/{workflow.pk}/nodes/triage", data)
    rules = Workflow.objects.get(pk=workflow.pk).graph["nodes"][3]["config"]["rules"]
    assert rules == [
        {"field": "rule_id", "regex": "^CVE-2019-", "action": "set_severity", "value": "low"},
        {"field": "title", "regex": "fixture", "action": "drop", "value": ""},
    ]


def test_a_viewer_sees_the_builder_read_only_and_cannot_save(
    workflow: Workflow, team: Team, make_member: Callable[..., User]
) -> None:
    viewer = Client()
    viewer.force_login(make_member(team, Role.VIEWER))
    session = viewer.session
    session["team_id"] = team.pk  # act in the shared team, not the viewer's personal one
    session.save()
    page = viewer.get(f"/workflows/{workflow.pk}/")
    assert page.status_code == 200 and b'data-can-write="0"' in page.content
    assert b'draggable="true"' not in page.content
    assert post_graph(viewer, workflow, chain_graph(), 1).status_code == 403
    assert (
        viewer.post(
            f"/workflows/{workflow.pk}/nodes/wait", {"seconds": "9", "revision": "1"}
        ).status_code
        == 403
    )
    assert viewer.post("/workflows/new", {"name": "x"}).status_code == 403
    assert Workflow.objects.get(pk=workflow.pk).revision == 1


def test_another_teams_workflow_pages_are_404(
    workflow: Workflow, make_user: Callable[..., User]
) -> None:
    stranger = Client()
    stranger.force_login(make_user("stranger@example.test"))
    for url in ("/", "/graph", "/panel", "/nodes/wait"):
        assert stranger.get(f"/workflows/{workflow.pk}{url}").status_code == 404, url
    assert post_graph(stranger, workflow, chain_graph(), 1).status_code == 404
    assert stranger.post(f"/workflows/{workflow.pk}/delete").status_code == 404


def test_a_dry_run_from_the_builder_shows_the_plan(
    browser: Client, workflow: Workflow, team: Team, user: User
) -> None:
    from targets.services import target_create

    target = target_create(team=team, user=user, value="127.0.0.1", note="lab")
    refused = browser.post(
        f"/workflows/{workflow.pk}/run", {"targets": [target.pk], "action": "dry_run"}
    )
    assert b"authorized" in refused.content and b"error" in refused.content
    answer = browser.post(
        f"/workflows/{workflow.pk}/run",
        {"targets": [target.pk], "authorize_targets": "on", "action": "dry_run"},
    )
    assert answer.status_code == 200
    assert b"builtin:port_scan" in answer.content and b"dry run #" in answer.content
