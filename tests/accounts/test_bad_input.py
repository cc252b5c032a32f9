"""Bad input anywhere in the API is a 4xx with a clear `detail`, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Team, User
from accounts.services import IssuedKey

pytestmark = pytest.mark.django_db

# Every accounts endpoint that takes a body, with a valid body for reference.
UNAUTHENTICATED = [
    "/api/v1/auth/register",
    "/api/v1/auth/reset-request",
    "/api/v1/auth/reset-confirm",
    "/api/v1/auth/token",
]
AUTHENTICATED = ["/api/v1/auth/api-keys", "/api/v1/teams/members"]


@pytest.fixture
def client(user: User, team: Team, issue_key: Callable[..., IssuedKey]) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(user, team).raw_key}")
    return api


def _post_raw(
    client: APIClient, path: str, body: str, content_type: str = "application/json"
) -> Any:
    return client.generic("POST", path, body, content_type=content_type)


def _assert_clear_4xx(answer: Any, status: int | None = None) -> None:
    assert 400 <= answer.status_code < 500, answer.content
    if status is not None:
        assert answer.status_code == status, answer.content
    assert answer["Content-Type"].startswith("application/json")
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and detail


@pytest.mark.parametrize("path", UNAUTHENTICATED + AUTHENTICATED)
def test_malformed_json_is_400(client: APIClient, path: str) -> None:
    answer = _post_raw(client, path, '{"email": "a@b.test",')
    _assert_clear_4xx(answer, 400)
    assert "JSON parse error" in answer.json()["detail"]


@pytest.mark.parametrize("path", UNAUTHENTICATED + AUTHENTICATED)
@pytest.mark.parametrize("body", ["[]", "[1, 2]", '"text"', "42", "null", "true"])
def test_a_json_body_that_is_not_an_object_is_400(client: APIClient, path: str, body: str) -> None:
    _assert_clear_4xx(_post_raw(client, path, body), 400)


@pytest.mark.parametrize("path", UNAUTHENTICATED + AUTHENTICATED)
def test_an_empty_body_is_400(client: APIClient, path: str) -> None:
    _assert_clear_4xx(_post_raw(client, path, ""), 400)


@pytest.mark.parametrize("path", UNAUTHENTICATED + AUTHENTICATED)
def test_a_body_over_one_megabyte_is_413(client: APIClient, path: str) -> None:
    big = json.dumps({"email": "a@b.test", "padding": "x" * (1024 * 1024)})
    answer = _post_raw(client, path, big)
    _assert_clear_4xx(answer, 413)
    assert "too large" in answer.json()["detail"]


def test_a_page_post_over_one_megabyte_is_413(db: None) -> None:
    answer = Client().post(
        "/accounts/login", {"username": "a@b.test", "password": "x" * (1024 * 1024 + 1)}
    )
    assert answer.status_code == 413


@pytest.mark.parametrize("path", UNAUTHENTICATED + AUTHENTICATED)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
def test_a_body_that_is_not_json_is_415(client: APIClient, path: str, content_type: str) -> None:
    answer = _post_raw(client, path, "email=a@b.test", content_type=content_type)
    _assert_clear_4xx(answer, 415)
    assert "Unsupported media type" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/auth/register", {"email": "a@b.test", "password": "x"}, "password"),
        ("/api/v1/auth/register", {"email": "a@b.test", "is_staff": True}, "is_staff"),
        ("/api/v1/auth/reset-request", {"email": "a@b.test", "team": 1}, "team"),
        ("/api/v1/auth/token", {"api_key": "opk_x", "scope": "admin"}, "scope"),
        ("/api/v1/auth/api-keys", {"name": "ci", "key_hash": "00"}, "key_hash"),
        ("/api/v1/teams/members", {"email": "a@b.test", "team": 2}, "team"),
    ],
)
def test_unknown_fields_are_400_and_named(
    client: APIClient, path: str, body: dict[str, Any], field: str
) -> None:
    answer = client.post(path, body, format="json")
    _assert_clear_4xx(answer, 400)
    assert answer.json()["errors"][field] == ["Unknown field."]
    assert field in answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/auth/register", {"email": 42}, "email"),
        ("/api/v1/auth/register", {"email": ["a@b.test"]}, "email"),
        ("/api/v1/auth/register", {"email": {"$ne": ""}}, "email"),
        ("/api/v1/auth/register", {"email": "not-an-email"}, "email"),
        ("/api/v1/auth/register", {"email": "a@b.test" + "x" * 300}, "email"),
        ("/api/v1/auth/reset-confirm", {"email": "a@b.test", "token": ["x"]}, "token"),
        ("/api/v1/auth/reset-confirm", {"email": "a@b.test"}, "token"),
        ("/api/v1/auth/token", {"api_key": None}, "api_key"),
        ("/api/v1/auth/token", {"api_key": {"a": 1}}, "api_key"),
        ("/api/v1/auth/api-keys", {"name": ""}, "name"),
        ("/api/v1/auth/api-keys", {"name": "x" * 101}, "name"),
        ("/api/v1/auth/api-keys", {"name": "ci", "role": "admin"}, "role"),
        ("/api/v1/auth/api-keys", {"name": "ci", "expires_at": "tomorrow"}, "expires_at"),
        (
            "/api/v1/auth/api-keys",
            {"name": "ci", "expires_at": "2001-01-01T00:00:00Z"},
            "expires_at",
        ),
        ("/api/v1/auth/api-keys", {"name": 5.5, "role": 1}, "role"),
        ("/api/v1/teams/members", {"email": "a@b.test", "role": "god"}, "role"),
    ],
)
def test_wrong_types_and_values_are_400_and_named(
    client: APIClient, path: str, body: dict[str, Any], field: str
) -> None:
    answer = client.post(path, body, format="json")
    _assert_clear_4xx(answer, 400)
    assert field in answer.json()["errors"]


def test_a_wrong_type_in_a_patch_is_400(client: APIClient, user: User, team: Team) -> None:
    member = team.memberships.get(user=user)
    answer = client.patch(f"/api/v1/teams/members/{member.pk}", {"role": ["owner"]}, format="json")
    _assert_clear_4xx(answer, 400)


def test_an_unknown_path_under_the_api_answers_json_404(client: APIClient) -> None:
    for path in (
        "/api/v1/nope",
        "/api/nope",
        "/api/v1/auth/api-keys/999999",
        "/api/v1/auth/api-keys/abc",
    ):
        _assert_clear_4xx(client.get(path), 404)
    anonymous = APIClient().get("/api/v2/anything")
    _assert_clear_4xx(anonymous, 404)


def test_an_unknown_page_is_an_html_404(db: None) -> None:
    answer = Client().get("/no-such-page")
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_405_with_detail(client: APIClient) -> None:
    _assert_clear_4xx(client.put("/api/v1/auth/me", {}, format="json"), 405)
    _assert_clear_4xx(APIClient().get("/api/v1/auth/register"), 405)


def test_a_non_numeric_content_length_is_400(db: None) -> None:
    answer = Client().generic(
        "POST",
        "/api/v1/auth/register",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH="abc",
    )
    assert answer.status_code == 400


def test_bad_query_parameters_are_4xx(client: APIClient) -> None:
    _assert_clear_4xx(client.get("/api/v1/auth/api-keys", {"page": "abc"}), 404)
    _assert_clear_4xx(client.get("/api/v1/auth/api-keys", {"page": "99"}), 404)
    # A page size that is not a whole number is refused, naming it (it used to fall back quietly).
    refused = client.get("/api/v1/auth/api-keys", {"page_size": "abc"})
    _assert_clear_4xx(refused, 400)
    assert "page_size" in refused.json()["errors"]
