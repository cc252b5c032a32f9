"""Teams (invitations: test_invitations.py): only owners invite, roles, switching the current team, removing
a member revokes their keys in that team, demoting a member caps their keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership, Role, Team, User
from accounts.services import IssuedKey

pytestmark = pytest.mark.django_db


def _page_client(user: User, team: Team | None = None) -> Client:
    browser = Client()
    browser.force_login(user)
    if team is not None:
        assert browser.post("/accounts/teams/switch", {"team_id": team.pk}).status_code == 302
    return browser


def test_sign_up_creates_a_personal_team_with_the_user_as_owner(
    sign_up_in_browser: Callable[..., Any],
) -> None:
    browser = Client()
    answer = sign_up_in_browser(browser, "New.Person@Example.test", display_name="New Person")
    assert answer.status_code == 302
    user = User.objects.get(email="new.person@example.test")
    team = Team.objects.get(personal_owner=user)
    assert team.name == "New Person's team"
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER
    home = browser.get("/")
    assert home.context["current_team"] == team
    assert home.context["current_role"] == "owner"


def test_an_owner_changes_roles_and_removes_in_the_api(
    user: User,
    shared_team: Team,
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    colleague = make_member(shared_team, Role.ANALYST, "colleague@example.test")
    owner = api(issue_key(user, shared_team).raw_key)
    membership = Membership.objects.get(team=shared_team, user=colleague)
    member_url = f"/api/v1/teams/members/{membership.pk}"

    assert owner.patch(member_url, {"role": "owner"}, format="json").json()["role"] == "owner"
    listed = owner.get("/api/v1/teams/members").json()["results"]
    assert {(row["email"], row["role"]) for row in listed} == {
        (user.email, "owner"),
        (colleague.email, "owner"),
    }

    assert owner.delete(member_url).status_code == 204
    assert not Membership.objects.filter(team=shared_team, user=colleague).exists()


def test_only_owners_invite(
    shared_team: Team,
    make_member: Callable[..., User],
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    analyst = make_member(shared_team, Role.ANALYST)
    outsider = make_user("outsider@example.test")
    answer = api(issue_key(analyst, shared_team).raw_key).post(
        "/api/v1/teams/members", {"email": outsider.email}, format="json"
    )
    assert answer.status_code == 403
    browser = _page_client(analyst, shared_team)
    assert (
        browser.post(
            "/accounts/teams/members/invite", {"email": outsider.email, "role": "viewer"}
        ).status_code
        == 403
    )
    assert not Membership.objects.filter(user=outsider, team=shared_team).exists()


def test_a_personal_team_takes_no_other_members(
    user: User, team: Team, make_user: Callable[..., User], owner_api: APIClient
) -> None:
    colleague = make_user("colleague@example.test")
    answer = owner_api.post("/api/v1/teams/members", {"email": colleague.email}, format="json")
    assert answer.status_code == 400
    assert "personal team" in answer.json()["detail"]


def test_the_last_owner_can_neither_be_demoted_nor_removed(
    user: User,
    shared_team: Team,
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    owner = api(issue_key(user, shared_team).raw_key)
    me = Membership.objects.get(team=shared_team, user=user)
    demoted = owner.patch(f"/api/v1/teams/members/{me.pk}", {"role": "viewer"}, format="json")
    assert demoted.status_code == 400
    assert demoted.json()["detail"] == "A team needs at least one owner."
    assert owner.delete(f"/api/v1/teams/members/{me.pk}").status_code == 400
    assert Membership.objects.get(pk=me.pk).role == Role.OWNER


def test_switching_teams_in_the_page_changes_the_current_team(
    user: User, team: Team, shared_team: Team
) -> None:
    browser = _page_client(user)
    assert browser.get("/").context["current_team"] == team  # the personal team first
    switched = browser.post(
        "/accounts/teams/switch", {"team_id": shared_team.pk, "next": "/accounts/api-keys"}
    )
    assert switched.status_code == 302
    assert switched["Location"] == "/accounts/api-keys"
    page = browser.get("/accounts/api-keys")
    assert page.context["current_team"] == shared_team
    assert "Red team" in page.content.decode()
    # An open redirect is not possible through `next`.
    away = browser.post("/accounts/teams/switch", {"team_id": team.pk, "next": "//evil.example/"})
    assert away["Location"] == "/"


def test_creating_a_team_in_the_page_makes_it_current(user: User) -> None:
    browser = _page_client(user)
    answer = browser.post("/accounts/teams/create", {"name": "  Purple team "})
    assert answer.status_code == 302
    purple = Team.objects.get(name="Purple team")
    assert Membership.objects.get(team=purple, user=user).role == Role.OWNER
    assert browser.get("/").context["current_team"] == purple
    assert browser.post("/accounts/teams/create", {"name": ""}).status_code == 400


def test_the_api_lists_the_users_teams_with_roles(
    user: User,
    team: Team,
    shared_team: Team,
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    outsider = make_user("outsider@example.test")
    answer = api(issue_key(user, team).raw_key).get("/api/v1/teams")
    assert answer.status_code == 200
    rows = [(row["team"]["name"], row["team"]["is_personal"], row["role"]) for row in answer.json()]
    assert rows == [(team.name, True, "owner"), ("Red team", False, "owner")]
    assert outsider.email not in answer.content.decode()


def test_a_key_works_in_its_own_team_only(
    user: User,
    team: Team,
    shared_team: Team,
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    personal = api(issue_key(user, team).raw_key).get("/api/v1/auth/me").json()
    shared = api(issue_key(user, shared_team).raw_key).get("/api/v1/auth/me").json()
    assert personal["team"]["id"] == team.pk
    assert shared["team"]["id"] == shared_team.pk


def test_removing_a_member_revokes_their_keys_in_that_team_only(
    user: User,
    shared_team: Team,
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    member = make_member(shared_team, Role.ANALYST)
    in_team = issue_key(member, shared_team)
    personal = issue_key(member, Team.objects.get(personal_owner=member))
    owner = api(issue_key(user, shared_team).raw_key)
    membership = Membership.objects.get(team=shared_team, user=member)

    assert owner.delete(f"/api/v1/teams/members/{membership.pk}").status_code == 204
    assert ApiKey.objects.get(pk=in_team.api_key.pk).revoked_at is not None
    assert api(in_team.raw_key).get("/api/v1/auth/me").status_code == 401
    assert api(personal.raw_key).get("/api/v1/auth/me").status_code == 200


def test_a_member_removed_in_the_page_loses_their_keys(
    user: User,
    shared_team: Team,
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    member = make_member(shared_team, Role.VIEWER)
    key = issue_key(member, shared_team)
    membership = Membership.objects.get(team=shared_team, user=member)
    browser = _page_client(user, shared_team)
    assert browser.post(f"/accounts/teams/members/{membership.pk}/remove").status_code == 302
    assert api(key.raw_key).get("/api/v1/auth/me").status_code == 401


def test_a_member_can_leave_a_team_in_the_page(
    shared_team: Team, make_member: Callable[..., User], issue_key: Callable[..., IssuedKey]
) -> None:
    member = make_member(shared_team, Role.ANALYST)
    key = issue_key(member, shared_team)
    membership = Membership.objects.get(team=shared_team, user=member)
    browser = _page_client(member, shared_team)
    assert browser.post(f"/accounts/teams/members/{membership.pk}/remove").status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert ApiKey.objects.get(pk=key.api_key.pk).revoked_at is not None
    assert browser.get("/").context["current_team"] == Team.objects.get(personal_owner=member)


def test_nobody_leaves_their_personal_team(user: User, team: Team) -> None:
    membership = Membership.objects.get(team=team, user=user)
    browser = _page_client(user)
    browser.post(f"/accounts/teams/members/{membership.pk}/remove")
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_demoting_a_member_caps_their_keys(
    user: User,
    shared_team: Team,
    make_member: Callable[..., User],
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    co_owner = make_member(shared_team, Role.OWNER)
    outsider = make_user("outsider@example.test")
    co_owner_key = api(issue_key(co_owner, shared_team).raw_key)
    assert co_owner_key.get("/api/v1/auth/me").json()["role"] == "owner"
    assert co_owner_key.get("/api/v1/audit").status_code == 200

    browser = _page_client(user, shared_team)
    membership = Membership.objects.get(team=shared_team, user=co_owner)
    assert (
        browser.post(
            f"/accounts/teams/members/{membership.pk}/role", {"role": "viewer"}
        ).status_code
        == 200
    )
    assert Membership.objects.get(pk=membership.pk).role == Role.VIEWER

    assert co_owner_key.get("/api/v1/auth/me").json()["role"] == "viewer"
    assert co_owner_key.get("/api/v1/audit").status_code == 403
    invite = co_owner_key.post("/api/v1/teams/members", {"email": outsider.email}, format="json")
    assert invite.status_code == 403
    # Promoting again restores the key's own role (the key was created as owner).
    browser.post(f"/accounts/teams/members/{membership.pk}/role", {"role": "owner"})
    assert co_owner_key.get("/api/v1/auth/me").json()["role"] == "owner"


def test_the_key_form_offers_no_role_above_the_users(
    shared_team: Team, make_member: Callable[..., User]
) -> None:
    analyst = make_member(shared_team, Role.ANALYST)
    browser = _page_client(analyst, shared_team)
    page = browser.get("/accounts/api-keys").content.decode()
    assert 'value="analyst"' in page and 'value="viewer"' in page
    assert 'value="owner"' not in page
    forged = browser.post("/accounts/api-keys/create", {"name": "escalate", "role": "owner"})
    assert forged.status_code == 400
    assert not ApiKey.objects.filter(name="escalate").exists()


def test_createsuperuser_gets_a_personal_team(db: None) -> None:
    admin = User.objects.create_superuser("ops@example.test", "correct horse battery 9")
    team = Team.objects.get(personal_owner=admin)
    assert Membership.objects.get(team=team, user=admin).role == Role.OWNER
    browser = Client()
    browser.force_login(admin)
    assert browser.get("/accounts/api-keys").status_code == 200


def test_an_account_in_no_team_is_told_how_to_get_one(db: None) -> None:
    loner = User.objects.create_user("loner@example.test", "correct horse battery 9")
    browser = Client()
    browser.force_login(loner)
    home = browser.get("/")
    assert home.status_code == 200
    assert "No team yet" in home.content.decode()
    assert browser.get("/accounts/api-keys").status_code == 403
    created = browser.post("/accounts/teams/create", {"name": "Loner's team"})
    assert created.status_code == 302
    assert browser.get("/accounts/api-keys").status_code == 200
