"""API keys: Bearer use, the deprecated X-API-Key header, revocation, expiry, role caps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Role, Team, User
from accounts.services import IssuedKey
from accounts.tokens import hash_secret

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"
KEYS = "/api/v1/auth/api-keys"


def test_a_key_works_as_a_bearer_token_until_it_is_revoked(
    user: User, team: Team, issue_key: Callable[..., IssuedKey], api: Callable[..., APIClient]
) -> None:
    issued = issue_key(user, team)
    client = api(issued.raw_key)
    me = client.get(ME)
    assert me.status_code == 200
    assert me.json()["team"]["id"] == team.pk
    assert me.json()["auth"] == "api_key"

    revoked = client.delete(f"{KEYS}/{issued.api_key.pk}")
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"

    after = client.get(ME)
    assert after.status_code == 401
    assert after.json()["detail"] == "This API key has been revoked."
    assert after["WWW-Authenticate"].startswith("Bearer")


def test_a_request_without_credentials_gets_401_not_403(api: Callable[..., APIClient]) -> None:
    answer = api().get(ME)
    assert answer.status_code == 401
    assert "detail" in answer.json()


def test_an_unknown_key_gets_401(db: None, api: Callable[..., APIClient]) -> None:
    answer = api("opk_" + "A" * 43).get(ME)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "Invalid API key."


def test_the_x_api_key_header_works_with_a_deprecation_header(
    user: User, team: Team, issue_key: Callable[..., IssuedKey]
) -> None:
    issued = issue_key(user, team)
    client = APIClient()
    answer = client.get(ME, HTTP_X_API_KEY=issued.raw_key)
    assert answer.status_code == 200
    assert answer["Deprecation"] == "true"
    assert "deprecation" in answer["Link"]

    bearer = client.get(ME, HTTP_AUTHORIZATION=f"Bearer {issued.raw_key}")
    assert bearer.status_code == 200
    assert "Deprecation" not in bearer


def test_a_bad_x_api_key_gets_401(db: None) -> None:
    answer = APIClient().get(ME, HTTP_X_API_KEY="opk_not-a-real-key-at-all-000000")
    assert answer.status_code == 401


def test_only_a_hash_of_the_key_is_stored(user: User, team: Team, owner_api: APIClient) -> None:
    created = owner_api.post(KEYS, {"name": "GitLab CI"}, format="json")
    assert created.status_code == 201
    raw = created.json()["key"]
    stored = ApiKey.objects.get(pk=created.json()["id"])
    assert stored.key_hash == hash_secret(raw)
    assert raw not in {str(v) for v in ApiKey.objects.values_list(flat=False).get(pk=stored.pk)}
    listed = owner_api.get(KEYS).json()["results"]
    assert all("key" not in row for row in listed)
    assert created.json()["prefix"] == raw[:12]


def test_an_expired_key_is_refused(
    user: User, team: Team, issue_key: Callable[..., IssuedKey], api: Callable[..., APIClient]
) -> None:
    issued = issue_key(user, team)
    ApiKey.objects.filter(pk=issued.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    answer = api(issued.raw_key).get(ME)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "This API key has expired."


def test_a_key_of_a_disabled_account_is_refused(
    user: User, team: Team, issue_key: Callable[..., IssuedKey], api: Callable[..., APIClient]
) -> None:
    issued = issue_key(user, team)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert api(issued.raw_key).get(ME).status_code == 401


def test_a_key_cannot_have_a_higher_role_than_its_creator(
    shared_team: Team,
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    analyst = make_member(shared_team, Role.ANALYST)
    client = api(issue_key(analyst, shared_team).raw_key)
    refused = client.post(KEYS, {"name": "escalate", "role": "owner"}, format="json")
    assert refused.status_code == 400
    assert "role" in refused.json()["errors"]
    allowed = client.post(KEYS, {"name": "ok", "role": "viewer"}, format="json")
    assert allowed.status_code == 201
    assert allowed.json()["role"] == "viewer"


def test_a_key_cannot_mint_a_key_above_its_own_role(
    user: User, team: Team, issue_key: Callable[..., IssuedKey], api: Callable[..., APIClient]
) -> None:
    # The user is owner, but this key is only a viewer: it must not mint an owner key.
    viewer_key = issue_key(user, team, role=Role.VIEWER)
    client = api(viewer_key.raw_key)
    refused = client.post(KEYS, {"name": "escalate", "role": "owner"}, format="json")
    assert refused.status_code == 400
    assert "role" in refused.json()["errors"]
    default = client.post(KEYS, {"name": "default role"}, format="json")
    assert default.status_code == 201
    assert default.json()["role"] == "viewer"


def test_an_owner_sees_every_key_of_the_team_and_others_see_their_own(
    user: User,
    shared_team: Team,
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    analyst = make_member(shared_team, Role.ANALYST)
    owner_key = issue_key(user, shared_team, name="owner's")
    analyst_key = issue_key(analyst, shared_team, name="analyst's")

    owner_view = api(owner_key.raw_key).get(KEYS).json()["results"]
    assert {row["name"] for row in owner_view} == {"owner's", "analyst's"}
    analyst_client = api(analyst_key.raw_key)
    analyst_view = analyst_client.get(KEYS).json()["results"]
    assert {row["name"] for row in analyst_view} == {"analyst's"}
    # Another member's key is invisible to an analyst: 404, not 403.
    assert analyst_client.get(f"{KEYS}/{owner_key.api_key.pk}").status_code == 404
    assert analyst_client.delete(f"{KEYS}/{owner_key.api_key.pk}").status_code == 404
    # An owner may revoke a member's key.
    assert api(owner_key.raw_key).delete(f"{KEYS}/{analyst_key.api_key.pk}").status_code == 200
    assert analyst_client.get(ME).status_code == 401


def test_the_browser_session_reaches_the_api_in_its_current_team_with_csrf(
    user: User, shared_team: Team
) -> None:
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    me = browser.get(ME)
    assert me.status_code == 200
    assert me.json()["auth"] == "session"
    assert me.json()["team"]["is_personal"] is True
    # A write without the CSRF token is refused (a forged cross-site request).
    forged = browser.post(KEYS, {"name": "csrf"}, content_type="application/json")
    assert forged.status_code == 403
    assert "CSRF" in forged.json()["detail"]
    assert not ApiKey.objects.filter(name="csrf").exists()


def test_a_second_live_key_with_the_same_name_is_refused_by_the_api_and_the_page(
    user: User, team: Team, owner_api: APIClient, client: Any
) -> None:
    first = owner_api.post(KEYS, {"name": "GitLab CI"}, format="json")
    assert first.status_code == 201
    again = owner_api.post(KEYS, {"name": "gitlab ci "}, format="json")
    assert again.status_code == 400
    assert "already have a key named “GitLab CI”" in again.json()["errors"]["name"][0]
    client.force_login(user)
    page = client.post("/accounts/api-keys/create", {"name": "GitLab CI", "role": "analyst"})
    assert page.status_code == 400
    assert "already have a key named" in page.content.decode()
    # Once revoked, the name is free again.
    owner_api.delete(f"{KEYS}/{first.json()['id']}")
    assert owner_api.post(KEYS, {"name": "GitLab CI"}, format="json").status_code == 201


def test_the_database_refuses_a_live_duplicate_name_even_past_the_service(
    user: User, team: Team, issue_key: Callable[..., IssuedKey]
) -> None:
    from django.db import IntegrityError, transaction

    issued = issue_key(user, team, name="deploy")
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(
            team=team, user=user, name="DEPLOY", prefix="opk_x", key_hash="0" * 64
        )
    assert ApiKey.objects.filter(team=team, user=user).count() == 1 == len([issued])
