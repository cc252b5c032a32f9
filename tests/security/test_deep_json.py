"""JSON nested past `API_MAX_JSON_DEPTH` is a 400 naming the limit, on every JSON endpoint of
the API (taken from the OpenAPI schema, so a new one is covered the day it is added), the
builder's save and the workflow import: never the 500 that ~100,000 `[` inside the 1 MiB body
limit used to give, unauthenticated, with a full traceback in the log (issue #21, item 2)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.models import Team, User
from accounts.services import IssuedKey
from config.jsonbody import JSONTooDeep, json_depth_exceeds, json_loads_bounded
from workflows.services import workflow_create

pytestmark = pytest.mark.django_db

BOMB = "[" * 100_000 + "]" * 100_000  # 200 kB: well inside the 1 MiB body limit
JUST_PAST = "[" * 65 + "]" * 65
LIMIT_MESSAGE = "JSON nested deeper than 64 levels"


def _json_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = (operation.get("requestBody") or {}).get("content") or {}
            if "application/json" in content:
                found.append((method.upper(), path))
    return found


JSON_OPERATIONS = _json_operations()


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_schema_lists_the_json_endpoints_the_campaign_hit() -> None:
    paths = {path for _, path in JSON_OPERATIONS}
    for expected in (
        "/api/v1/auth/token",
        "/api/v1/auth/register",
        "/api/v1/auth/reset-request",
        "/api/v1/targets",
    ):
        assert expected in paths


@pytest.mark.parametrize("body", [BOMB, JUST_PAST], ids=["100000-deep", "65-deep"])
@pytest.mark.parametrize(
    "path",
    ["/api/v1/auth/token", "/api/v1/auth/register", "/api/v1/auth/reset-request"],
)
def test_an_unauthenticated_deep_body_is_400_naming_the_limit(path: str, body: str) -> None:
    answer = APIClient().generic("POST", path, body, content_type="application/json")

    assert answer.status_code == 400, answer.content[:300]
    assert LIMIT_MESSAGE in answer.json()["detail"]


@pytest.mark.parametrize(("method", "path"), JSON_OPERATIONS)
def test_every_json_endpoint_refuses_a_deep_body_with_400(
    method: str,
    path: str,
    user: User,
    team: Team,
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    """As the team's owner, on objects that exist, so the body is really read."""
    workflow = workflow_create(team=team, user=user, name="w")
    concrete = re.sub(r"\{[^}]+\}", str(workflow.pk), path)
    client = api(issue_key(user, team).raw_key)

    answer = client.generic(method, concrete, BOMB, content_type="application/json")

    assert answer.status_code < 500, answer.content[:300]
    if answer.status_code == 400:
        assert LIMIT_MESSAGE in answer.json()["detail"]


def test_a_document_at_the_limit_is_read() -> None:
    at_limit = "[" * 64 + "]" * 64
    assert json_loads_bounded(at_limit) is not None
    with pytest.raises(JSONTooDeep, match="64 levels"):
        json_loads_bounded(JUST_PAST)
    assert not json_depth_exceeds({"a": [{"b": 1}]}, 3)
    assert json_depth_exceeds({"a": [{"b": []}]}, 3)


def test_the_builder_save_refuses_a_deep_body_with_400(user: User, team: Team) -> None:
    workflow = workflow_create(team=team, user=user, name="w")
    browser = Client()
    browser.force_login(user)

    answer = browser.post(f"/workflows/{workflow.pk}/graph", BOMB, content_type="application/json")

    assert answer.status_code == 400
    assert LIMIT_MESSAGE in answer.json()["detail"]


@pytest.mark.parametrize(
    ("content_type", "document"),
    [
        ("application/json", '{"graph": ' + "[" * 200 + "]" * 200 + "}"),
        ("application/yaml", "graph: " + "[" * 200 + "]" * 200 + "\n"),
        ("application/yaml", "graph: " + "[" * 20000 + "]" * 20000 + "\n"),
    ],
    ids=["json", "yaml", "yaml-recursion"],
)
def test_a_deep_workflow_import_is_400_naming_the_limit(
    content_type: str,
    document: str,
    user: User,
    team: Team,
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    client = api(issue_key(user, team).raw_key)

    answer = client.generic("POST", "/api/v1/workflows/import", document, content_type=content_type)

    assert answer.status_code == 400, answer.content[:300]
    assert LIMIT_MESSAGE in str(answer.json())
