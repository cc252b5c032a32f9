"""Tenancy: another team's objects are 404 in pages and API; a viewer's writes are 403."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership, Role, Team, User
from accounts.services import IssuedKey, team_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_b(make_user: Callable[..., User]) -> tuple[User, Team]:
    """Another user's shared team, with a second member and a key each."""
    owner_b = make_user("owner-b@example.test")
    team = team_create(name="Blue team", owner=owner_b)
    return owner_b, team


def test_every_object_of_another_team_is_404_in_the_api(
    user: User,
    team: Team,
    team_b: tuple[User, Team],
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    owner_b, blue = team_b
    member_b = make_member(blue, Role.ANALYST)
    key_b = issue_key(owner_b, blue)
    membership_b = Membership.objects.get(team=blue, user=member_b)
    client = api(issue_key(user, team).raw_key)  # owner of their own team

    assert client.get(f"/api/v1/auth/api-keys/{key_b.api_key.pk}").status_code == 404
    assert client.delete(f"/api/v1/auth/api-keys/{key_b.api_key.pk}").status_code == 404
    assert client.get(f"/api/v1/teams/members/{membership_b.pk}").status_code == 404
    patched = client.patch(
        f"/api/v1/teams/members/{membership_b.pk}", {"role": "owner"}, format="json"
    )
    assert patched.status_code == 404
    assert patched.json() == {"detail": "Not found."}
    assert client.delete(f"/api/v1/teams/members/{membership_b.pk}").status_code == 404

    listed_keys = client.get("/api/v1/auth/api-keys").json()["results"]
    assert key_b.api_key.pk not in {row["id"] for row in listed_keys}
    listed_members = client.get("/api/v1/teams/members").json()["results"]
    assert {row["email"] for row in listed_members} == {user.email}
    audit = client.get("/api/v1/audit").json()["results"]
    assert all(row["team"] == team.pk for row in audit)

    # Nothing changed in team B.
    assert ApiKey.objects.get(pk=key_b.api_key.pk).revoked_at is None
    assert Membership.objects.get(pk=membership_b.pk).role == Role.ANALYST


def test_every_object_of_another_team_is_404_in_the_pages(
    user: User,
    team_b: tuple[User, Team],
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
) -> None:
    owner_b, blue = team_b
    member_b = make_member(blue, Role.ANALYST)
    key_b = issue_key(owner_b, blue)
    membership_b = Membership.objects.get(team=blue, user=member_b)
    browser = Client()
    browser.force_login(user)

    assert browser.post(f"/accounts/api-keys/{key_b.api_key.pk}/revoke").status_code == 404
    assert (
        browser.post(
            f"/accounts/teams/members/{membership_b.pk}/role", {"role": "owner"}
        ).status_code
        == 404
    )
    assert browser.post(f"/accounts/teams/members/{membership_b.pk}/remove").status_code == 404
    assert browser.post("/accounts/teams/switch", {"team_id": blue.pk}).status_code == 404
    assert browser.post("/accounts/teams/switch", {"team_id": "nope"}).status_code == 404
    keys_page = browser.get("/accounts/api-keys")
    assert key_b.api_key.prefix not in keys_page.content.decode()
    teams_page = browser.get("/accounts/teams").content.decode()
    assert member_b.email not in teams_page
    assert "Blue team" not in teams_page

    assert ApiKey.objects.get(pk=key_b.api_key.pk).revoked_at is None
    assert Membership.objects.filter(pk=membership_b.pk, role=Role.ANALYST).exists()


def test_a_session_pointing_at_a_team_the_user_left_falls_back_to_the_personal_team(
    user: User, team: Team, team_b: tuple[User, Team]
) -> None:
    _owner_b, blue = team_b
    Membership.objects.create(team=blue, user=user, role=Role.ANALYST)
    browser = Client()
    browser.force_login(user)
    browser.post("/accounts/teams/switch", {"team_id": blue.pk})
    assert browser.get("/").context["current_team"] == blue
    Membership.objects.filter(team=blue, user=user).delete()
    assert browser.get("/").context["current_team"] == team


def test_a_viewer_gets_403_on_writes(
    shared_team: Team,
    make_member: Callable[..., User],
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    viewer = make_member(shared_team, Role.VIEWER)
    analyst = make_member(shared_team, Role.ANALYST)
    outsider = make_user("outsider@example.test")
    client = api(issue_key(viewer, shared_team).raw_key)
    analyst_membership = Membership.objects.get(team=shared_team, user=analyst)

    assert client.get("/api/v1/teams/members").status_code == 200
    invited = client.post("/api/v1/teams/members", {"email": outsider.email}, format="json")
    assert invited.status_code == 403
    assert invited.json()["detail"] == "Your role in this team does not allow this."
    url = f"/api/v1/teams/members/{analyst_membership.pk}"
    assert client.patch(url, {"role": "viewer"}, format="json").status_code == 403
    assert client.delete(url).status_code == 403
    assert client.get("/api/v1/audit").status_code == 403

    browser = Client()
    browser.force_login(viewer)
    browser.post("/accounts/teams/switch", {"team_id": shared_team.pk})
    assert (
        browser.post(
            "/accounts/teams/members/invite", {"email": outsider.email, "role": "viewer"}
        ).status_code
        == 403
    )
    assert (
        browser.post(
            f"/accounts/teams/members/{analyst_membership.pk}/role", {"role": "viewer"}
        ).status_code
        == 403
    )
    assert (
        browser.post(f"/accounts/teams/members/{analyst_membership.pk}/remove").status_code == 403
    )
    assert Membership.objects.filter(team=shared_team).count() == 3
    assert not Membership.objects.filter(user=outsider, team=shared_team).exists()


def test_an_owners_viewer_key_is_only_a_viewer(
    user: User,
    shared_team: Team,
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    outsider = make_user("outsider@example.test")
    client = api(issue_key(user, shared_team, role=Role.VIEWER).raw_key)
    assert client.get("/api/v1/auth/me").json()["role"] == "viewer"
    assert (
        client.post("/api/v1/teams/members", {"email": outsider.email}, format="json").status_code
        == 403
    )
    assert client.get("/api/v1/audit").status_code == 403
