from __future__ import annotations

import json

import pytest
import yaml
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Team, User
from workflows.models import Workflow
from workflows.services import IMPORT_MAX_BYTES, WorkflowInvalid, workflow_export, workflow_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(workflow: Workflow, user: User) -> Workflow:
    from workflows.services import workflow_update

    graph = dict(workflow.graph)
    graph["nodes"][0]["label"] = "Ports: «quick» ✓"
    return workflow_update(
        workflow=workflow,
        user=user,
        revision=workflow.revision,
        graph=graph,
        description="yes\nno: 1 # not a comment",
    )


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_export_import_export_is_exact(
    labelled: Workflow, team: Team, user: User, fmt: str
) -> None:
    first = workflow_export(labelled, fmt)
    imported = workflow_import(team=team, user=user, data=first, fmt=fmt)
    assert imported.pk != labelled.pk
    assert workflow_export(imported, fmt) == first
    assert imported.graph == labelled.graph and imported.description == labelled.description


def test_the_yaml_export_is_readable_yaml_of_the_same_document(labelled: Workflow) -> None:
    as_yaml = yaml.safe_load(workflow_export(labelled, "yaml"))
    as_json = json.loads(workflow_export(labelled, "json"))
    assert as_yaml == as_json
    assert as_json["format"] == "outpost.workflow" and as_json["version"] == 1
    assert set(as_json) == {"format", "version", "name", "description", "graph"}


def test_the_api_exports_json_and_yaml_as_downloads(
    owner_api: APIClient, labelled: Workflow
) -> None:
    as_json = owner_api.get(f"/api/v1/workflows/{labelled.pk}/export")
    assert as_json.status_code == 200
    assert as_json["Content-Type"].startswith("application/json")
    assert as_json["Content-Disposition"] == 'attachment; filename="nightly.json"'
    assert json.loads(as_json.content)["graph"] == labelled.graph
    as_yaml = owner_api.get(f"/api/v1/workflows/{labelled.pk}/export", {"format": "yaml"})
    assert as_yaml.status_code == 200 and as_yaml["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.content)["graph"] == labelled.graph
    assert (
        owner_api.get(f"/api/v1/workflows/{labelled.pk}/export", {"format": "xml"}).status_code
        == 400
    )


@pytest.mark.parametrize(
    "fmt, content_type", [("json", "application/json"), ("yaml", "application/yaml")]
)
def test_the_api_imports_a_body_and_round_trips(
    owner_api: APIClient, labelled: Workflow, fmt: str, content_type: str
) -> None:
    exported = owner_api.get(f"/api/v1/workflows/{labelled.pk}/export", {"format": fmt}).content
    answer = owner_api.post("/api/v1/workflows/import", exported, content_type=content_type)
    assert answer.status_code == 201, answer.content
    again = owner_api.get(
        f"/api/v1/workflows/{answer.json()['id']}/export", {"format": fmt}
    ).content
    assert again == exported
    assert AuditEvent.objects.filter(action="workflow.imported").count() == 1


def test_the_api_imports_a_multipart_file(owner_api: APIClient, labelled: Workflow) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = workflow_export(labelled, "yaml").encode()
    answer = owner_api.post(
        "/api/v1/workflows/import",
        {"file": SimpleUploadedFile("nightly.yml", text)},
        format="multipart",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["graph"] == labelled.graph


def test_an_import_with_an_invalid_graph_names_node_and_field(
    owner_api: APIClient, labelled: Workflow
) -> None:
    document = json.loads(workflow_export(labelled, "json"))
    document["graph"]["nodes"][0]["config"]["ports"] = "lots"
    answer = owner_api.post(
        "/api/v1/workflows/import", json.dumps(document), content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json()["errors"]["graph"][0]["node"] == "ports"
    assert answer.json()["errors"]["graph"][0]["field"] == "ports"
    assert Workflow.objects.count() == 1


@pytest.mark.parametrize(
    "text, field",
    [
        ("!!python/object/apply:os.system ['true']", "file"),
        ("a: &x [1]\nb: *x\n", "file"),
        ("- just\n- a list\n", "file"),
        ("graph: {nodes: [], edges: []}\nowner: me\n", "owner"),
        ("format: other.tool\ngraph: {nodes: [], edges: []}\n", "format"),
        ("version: 2\ngraph: {nodes: [], edges: []}\n", "version"),
        ("name: 2024-01-01\ngraph: {nodes: [], edges: []}\n", "name"),
        ("name: x\n", "graph"),
    ],
)
def test_yaml_imports_take_plain_data_only(team: Team, user: User, text: str, field: str) -> None:
    with pytest.raises(WorkflowInvalid) as caught:
        workflow_import(team=team, user=user, data=text, fmt="yaml")
    assert field in caught.value.fields


def test_json_imports_refuse_nan_and_oversized_documents(team: Team, user: User) -> None:
    with pytest.raises(WorkflowInvalid):
        workflow_import(
            team=team,
            user=user,
            data='{"graph": {"nodes": [], "edges": []}, "version": NaN}',
            fmt="json",
        )
    big = json.dumps({"graph": {"nodes": [], "edges": []}, "description": "x" * IMPORT_MAX_BYTES})
    with pytest.raises(WorkflowInvalid) as caught:
        workflow_import(team=team, user=user, data=big, fmt="json")
    assert "Too large" in caught.value.fields["file"][0]


def test_an_import_without_a_name_gets_a_default_one(team: Team, user: User) -> None:
    imported = workflow_import(
        team=team, user=user, data=b'{"graph": {"nodes": [], "edges": []}}', fmt="json"
    )
    assert imported.name == "Imported workflow" and imported.graph == {"nodes": [], "edges": []}
