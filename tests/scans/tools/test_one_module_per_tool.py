"""Adding a tool is writing one module: a throwaway tool in a test package (tests/scans/tools/
extra_tools/echo_report.py), registered through the same discovery as every tool (its package
in NODE_PACKAGES), shows in the node-types API, the builder's palette, the import page, the
import API and SARIF exports (the CLI's list: tests/cli/test_cli_tools.py), with no other file
edited."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Role, Team, User
from workflows.services import workflow_create

REPORT = json.dumps(
    {"echo": [{"rule": "ECHO-1", "severity": "high", "where": "127.0.0.1:80/tcp"}]}
).encode()


@pytest.fixture
def echo_tool(settings: Any) -> str:
    settings.NODE_PACKAGES = [*settings.NODE_PACKAGES, "tests.scans.tools.extra_tools"]
    return "echo_report"


def test_the_tool_is_in_the_node_types_api(echo_tool: str, owner_api: APIClient) -> None:
    catalogue = owner_api.get("/api/v1/workflows/node-types").json()

    [echo] = [node for node in catalogue if node["type"] == echo_tool]
    assert echo["label"] == "Echo report" and echo["group"] == "Scan"
    assert echo["available"] is True and echo["accepts"] == ["host"]


def test_the_tool_is_in_the_builders_palette(
    echo_tool: str, client: Client, user: User, team: Team
) -> None:
    workflow = workflow_create(team=team, user=user, name="w", description="", graph=None)
    client.force_login(user)

    page = client.get(f"/workflows/{workflow.pk}/").content.decode()

    assert 'data-type="echo_report"' in page and "Echo report" in page


def test_the_tool_is_on_the_import_page_and_its_report_imports(
    echo_tool: str, client: Client, user: User, team: Team
) -> None:
    client.force_login(user)
    page = client.get("/scans/import").content.decode()
    text = re.sub(r"<[^>]+>", "", page)
    assert '<option value="echo_report"' in page and "echo-report --json" in text

    upload = SimpleUploadedFile("echo.json", REPORT, content_type="application/json")
    answer = client.post("/scans/import", {"tool": echo_tool, "file": upload})

    assert answer.status_code == 302
    scan_id = int(answer["Location"].rstrip("/").rsplit("/", 1)[-1])
    detail = client.get(f"/scans/{scan_id}/").content.decode()
    assert "Echo ECHO-1" in detail


def test_the_import_api_lists_and_reads_the_tool_and_sarif_names_its_home(
    echo_tool: str, owner_api: APIClient
) -> None:
    tools = owner_api.get("/api/v1/scans/import/tools").json()
    [echo] = [row for row in tools if row["tool"] == echo_tool]
    assert echo["formats"] == [
        {"name": "echo-json", "label": "Echo JSON", "command": "echo-report --json > echo.json"}
    ]

    upload = SimpleUploadedFile("echo.json", REPORT, content_type="application/json")
    created = owner_api.post("/api/v1/scans/import", {"tool": echo_tool, "file": upload})
    assert created.status_code == 201, created.content
    sarif = owner_api.get(f"/api/v1/scans/{created.json()['scan_id']}?format=sarif").json()

    [run] = sarif["runs"]
    assert run["tool"]["driver"]["name"] == echo_tool
    assert run["tool"]["driver"]["informationUri"] == "https://echo.example.invalid/"
    assert [result["ruleId"] for result in run["results"]] == ["ECHO-1"]


def test_without_its_package_the_tool_is_nowhere(owner_api: APIClient, settings: Any) -> None:
    catalogue = owner_api.get("/api/v1/workflows/node-types").json()
    assert "echo_report" not in {node["type"] for node in catalogue}
    tools = owner_api.get("/api/v1/scans/import/tools").json()
    assert "echo_report" not in {row["tool"] for row in tools}


def test_a_viewer_may_read_the_import_tools(
    echo_tool: str, team: Team, make_member: Any, issue_key: Any, api: Any
) -> None:
    viewer = make_member(team, Role.VIEWER, "viewer@example.test")
    answer = api(issue_key(viewer, team).raw_key).get("/api/v1/scans/import/tools")
    assert answer.status_code == 200
