from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Role, Team, User
from tests.workflows.conftest import chain_graph
from workflows.models import Workflow
from workflows.nodes import get_node_type

pytestmark = pytest.mark.django_db


def test_it_creates_lists_and_reads_a_workflow_with_its_canonical_graph(
    owner_api: APIClient,
) -> None:
    created = owner_api.post(
        "/api/v1/workflows", {"name": "Nightly", "graph": chain_graph()}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["revision"] == 1 and body["node_count"] == 3
    port_scan = get_node_type("port_scan")
    assert body["graph"]["nodes"][0]["config"] == {**port_scan.defaults(), "ports": "22,80,443"}
    assert list(body["graph"]["nodes"][0]["config"]) == [f.name for f in port_scan.config_fields]
    assert body["graph"]["nodes"][2]["config"] == {"seconds": 5}
    listed = owner_api.get("/api/v1/workflows").json()
    assert [w["name"] for w in listed["results"]] == ["Nightly"]
    detail = owner_api.get(f"/api/v1/workflows/{body['id']}").json()
    assert detail["graph"] == body["graph"]
    assert AuditEvent.objects.filter(action="workflow.created").count() == 1


def test_an_invalid_graph_is_a_400_whose_errors_name_node_and_field(owner_api: APIClient) -> None:
    graph = chain_graph()
    graph["nodes"][2]["config"]["seconds"] = 0
    answer = owner_api.post("/api/v1/workflows", {"name": "Bad", "graph": graph}, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"]["graph"] == [
        {"node": "wait", "field": "seconds", "message": "must be at least 1"}
    ]
    assert answer.json()["detail"] == "Invalid graph: wait.seconds: must be at least 1"
    assert not Workflow.objects.exists()


def test_unknown_fields_are_refused(owner_api: APIClient, workflow: Workflow) -> None:
    answer = owner_api.post("/api/v1/workflows", {"name": "x", "owner": 3}, format="json")
    assert answer.status_code == 400 and "owner" in answer.json()["errors"]
    answer = owner_api.patch(
        f"/api/v1/workflows/{workflow.pk}", {"revision": 1, "team": 9}, format="json"
    )
    assert answer.status_code == 400 and "team" in answer.json()["errors"]


def test_put_and_patch_need_the_current_revision_and_bump_it(
    owner_api: APIClient, workflow: Workflow
) -> None:
    url = f"/api/v1/workflows/{workflow.pk}"
    missing = owner_api.patch(url, {"name": "Renamed"}, format="json")
    assert missing.status_code == 400 and "revision" in missing.json()["errors"]
    patched = owner_api.patch(url, {"name": "Renamed", "revision": 1}, format="json")
    assert patched.status_code == 200 and patched.json()["revision"] == 2
    graph = chain_graph()
    graph["nodes"].pop()
    graph["edges"].pop()
    put = owner_api.put(
        url, {"name": "Short", "description": "", "graph": graph, "revision": 2}, format="json"
    )
    assert put.status_code == 200, put.content
    assert put.json()["revision"] == 3 and put.json()["node_count"] == 2


def test_a_stale_revision_is_a_409_and_nothing_is_overwritten(
    owner_api: APIClient, workflow: Workflow
) -> None:
    url = f"/api/v1/workflows/{workflow.pk}"
    assert (
        owner_api.patch(url, {"description": "first tab", "revision": 1}, format="json").status_code
        == 200
    )
    stale = owner_api.patch(url, {"description": "second tab", "revision": 1}, format="json")
    assert stale.status_code == 409
    assert stale.json()["detail"] == "stale revision: reload"
    assert stale.json()["revision"] == 2
    workflow.refresh_from_db()
    assert workflow.description == "first tab" and workflow.revision == 2


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_saves_from_one_revision_exactly_one_wins(team: Team, user: User) -> None:
    from workflows.services import StaleRevision, workflow_create, workflow_update

    workflow = workflow_create(team=team, user=user, name="Race", graph=chain_graph())
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save(text: str) -> None:
        try:
            barrier.wait()
            workflow_update(
                workflow=Workflow.objects.get(pk=workflow.pk),
                user=user,
                revision=1,
                description=text,
            )
            outcomes.append("saved")
        except StaleRevision:
            outcomes.append("stale")
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(t,)) for t in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["saved", "stale"]
    assert Workflow.objects.get(pk=workflow.pk).revision == 2


def test_duplicate_copies_the_graph_at_revision_one(
    owner_api: APIClient, workflow: Workflow
) -> None:
    owner_api.patch(
        f"/api/v1/workflows/{workflow.pk}", {"revision": 1, "name": "Nightly"}, format="json"
    )
    copy = owner_api.post(f"/api/v1/workflows/{workflow.pk}/duplicate", {}, format="json")
    assert copy.status_code == 201
    assert copy.json()["name"] == "Copy of Nightly" and copy.json()["revision"] == 1
    assert copy.json()["graph"] == Workflow.objects.get(pk=workflow.pk).graph
    named = owner_api.post(
        f"/api/v1/workflows/{workflow.pk}/duplicate", {"name": "Weekly"}, format="json"
    )
    assert named.json()["name"] == "Weekly"


def test_delete_removes_it_and_is_audited(owner_api: APIClient, workflow: Workflow) -> None:
    assert owner_api.delete(f"/api/v1/workflows/{workflow.pk}").status_code == 204
    assert not Workflow.objects.filter(pk=workflow.pk).exists()
    assert AuditEvent.objects.filter(
        action="workflow.deleted", detail__workflow_id=workflow.pk
    ).exists()


def test_validate_answers_errors_or_the_canonical_graph_and_order(owner_api: APIClient) -> None:
    ok = owner_api.post(
        "/api/v1/workflows/validate", {"graph": chain_graph()}, format="json"
    ).json()
    assert ok["valid"] is True and ok["errors"] == []
    assert ok["order"] == ["ports", "gate", "wait"]
    assert ok["graph"]["nodes"][1]["config"]["min_count"] == 1
    cyclic = chain_graph()
    cyclic["edges"].append({"from": "wait", "to": "gate"})
    bad = owner_api.post("/api/v1/workflows/validate", {"graph": cyclic}, format="json").json()
    assert bad["valid"] is False and bad["graph"] is None
    assert bad["errors"][0]["field"] == "edges" and "cycle" in bad["errors"][0]["message"]


def test_a_team_can_start_from_each_template_that_is_available(owner_api: APIClient) -> None:
    templates = owner_api.get("/api/v1/workflows/templates").json()
    assert [t["key"] for t in templates] == [
        "quick-recon",
        "web-exposure",
        "subdomain-recon",
        "web-app-mapping",
        "full-recon",
        "full-recon-containers",
        "container-image-audit",
    ]
    for template in templates:
        assert template["available"], template["errors"]
        created = owner_api.post("/api/v1/workflows", {"template": template["key"]}, format="json")
        assert created.status_code == 201, created.content
        assert created.json()["name"] == template["name"]
        assert created.json()["graph"] == template["graph"]


def test_the_node_catalogue_lists_every_type(owner_api: APIClient) -> None:
    types = owner_api.get("/api/v1/workflows/node-types").json()
    assert {t["type"] for t in types} >= {"port_scan", "condition", "rules", "delay"}


def test_another_teams_workflow_is_a_404(
    workflow: Workflow,
    make_user: Callable[..., User],
    issue_key: Callable,
    api: Callable[..., APIClient],
) -> None:
    stranger = make_user("stranger@example.test")
    client = api(issue_key(stranger, Team.objects.get(personal_owner=stranger)).raw_key)
    url = f"/api/v1/workflows/{workflow.pk}"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"revision": 1, "name": "mine"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    assert client.post(f"{url}/duplicate", {}, format="json").status_code == 404
    assert client.get(f"{url}/export").status_code == 404
    assert client.get("/api/v1/workflows").json()["results"] == []


def test_a_viewer_reads_and_validates_but_cannot_write(
    workflow: Workflow,
    team: Team,
    make_member: Callable[..., User],
    issue_key: Callable,
    api: Callable[..., APIClient],
) -> None:
    viewer = make_member(team, Role.VIEWER)
    client = api(issue_key(viewer, team).raw_key)
    url = f"/api/v1/workflows/{workflow.pk}"
    assert client.get(url).status_code == 200
    assert client.get(f"{url}/export").status_code == 200
    assert (
        client.post(
            "/api/v1/workflows/validate", {"graph": chain_graph()}, format="json"
        ).status_code
        == 200
    )
    assert client.post("/api/v1/workflows", {"name": "x"}, format="json").status_code == 403
    assert client.patch(url, {"revision": 1, "name": "x"}, format="json").status_code == 403
    assert (
        client.put(
            url,
            {"revision": 1, "name": "x", "description": "", "graph": chain_graph()},
            format="json",
        ).status_code
        == 403
    )
    assert client.delete(url).status_code == 403
    assert client.post(f"{url}/duplicate", {}, format="json").status_code == 403
    assert (
        client.post("/api/v1/workflows/import", b"{}", content_type="application/json").status_code
        == 403
    )


def test_the_endpoints_are_in_the_openapi_schema(owner_api: APIClient) -> None:
    schema = owner_api.get("/api/schema", {"format": "json"})
    assert schema.status_code == 200
    paths = (
        schema.json()["paths"] if schema["Content-Type"].startswith("application/json") else None
    )
    if paths is None:
        import yaml

        paths = yaml.safe_load(schema.content)["paths"]
    for path in ("/api/v1/workflows", "/api/v1/workflows/{id}", "/api/v1/workflows/{id}/duplicate",
                 "/api/v1/workflows/{id}/export", "/api/v1/workflows/import", "/api/v1/workflows/validate",
                 "/api/v1/workflows/templates", "/api/v1/workflows/node-types"):  # fmt: skip
        assert path in paths, path


def test_a_draft_that_cannot_run_yet_is_saved_with_its_problems_listed(
    owner_api: APIClient, service_only_type: str
) -> None:
    empty = owner_api.post("/api/v1/workflows", {"name": "Blank"}, format="json").json()
    assert "at least one node" in empty["problems"][0]["message"]
    graph = {
        "nodes": [{"id": "first", "type": service_only_type, "config": {}, "x": 0, "y": 0}],
        "edges": [],
    }
    saved = owner_api.put(
        f"/api/v1/workflows/{empty['id']}",
        {"name": "Blank", "description": "", "graph": graph, "revision": 1},
        format="json",
    )
    assert saved.status_code == 200
    assert saved.json()["problems"][0]["node"] == "first"
    assert "cannot start a workflow" in saved.json()["problems"][0]["message"]
