"""Team invitations by e-mail: the inviter's answer is the same whether or not an account uses the
address (the campaign probed accounts through "No Outpost account uses this e-mail"), a mailed
one-time link is accepted by the account with that address (signing up first if it has none),
owners see and withdraw pending invitations, and inviting is rate-limited."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Invitation, Membership, Role, Team, User
from accounts.services import IssuedKey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sync_tasks")]

PASSWORD = "correct horse battery 9"


def _page_client(user: User, team: Team) -> Client:
    browser = Client(REMOTE_ADDR="10.8.0.1")
    browser.force_login(user)
    assert browser.post("/accounts/teams/switch", {"team_id": team.pk}).status_code == 302
    return browser


def _invite_page(browser: Client, email: str, role: str = "viewer") -> Any:
    return browser.post("/accounts/teams/members/invite", {"email": email, "role": role})


def _link_for(email: str) -> str:
    sent = [m for m in mail.outbox if m.to == [email.lower()]]
    assert sent, [m.to for m in mail.outbox]
    found = re.search(r"https?://[^/\s]+(/accounts/invitations/\S+)", str(sent[-1].body))
    assert found is not None, sent[-1].body
    return found.group(1)


def test_the_answer_is_the_same_whether_or_not_an_account_uses_the_address(
    user: User,
    shared_team: Team,
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    make_user("colleague@example.test")
    browser = _page_client(user, shared_team)
    known = _invite_page(browser, "Colleague@Example.test")
    ghost = _invite_page(browser, "ghost@example.test")
    assert known.status_code == ghost.status_code == 200
    for answer, email in ((known, "colleague@example.test"), (ghost, "ghost@example.test")):
        page = answer.content.decode()
        assert f"Invitation sent to {email}" in page
        assert "No Outpost account" not in page and "sign up first" not in page

    owner = api(issue_key(user, shared_team).raw_key)
    known_api = owner.post(
        "/api/v1/teams/members", {"email": "colleague@example.test"}, format="json"
    )
    ghost_api = owner.post("/api/v1/teams/members", {"email": "nobody@example.test"}, format="json")
    assert known_api.status_code == ghost_api.status_code == 202
    assert set(known_api.json()) == set(ghost_api.json()) == {
        "id", "email", "role", "created_at", "expires_at",
    }  # fmt: skip
    # Both get the same mail; nobody joins before accepting.
    assert sorted(m.to[0] for m in mail.outbox) == [
        "colleague@example.test", "colleague@example.test",
        "ghost@example.test", "nobody@example.test",
    ]  # fmt: skip
    assert not Membership.objects.filter(team=shared_team, user__email="colleague@example.test")


def test_an_existing_user_joins_by_accepting_the_mailed_link_once(
    user: User, shared_team: Team, make_user: Callable[..., User]
) -> None:
    colleague = make_user("colleague@example.test")
    _invite_page(_page_client(user, shared_team), colleague.email, role="viewer")
    link = _link_for(colleague.email)
    stored = Invitation.objects.get().token_hash or ""
    assert len(stored) == 64 and stored not in link  # only the hash is stored

    browser = Client()
    browser.force_login(colleague)
    shown = browser.get(link)
    assert shown.status_code == 200
    assert f"Join {shared_team.name}" in shown.content.decode()
    accepted = browser.post(link)
    assert accepted.status_code == 302
    membership = Membership.objects.get(team=shared_team, user=colleague)
    assert (membership.role, membership.invited_by) == (Role.VIEWER, user)
    assert browser.get("/").context["current_team"] == shared_team
    assert browser.get(link).status_code == 404  # used
    assert browser.post(link).status_code == 404


def test_someone_without_an_account_signs_up_from_the_link_and_joins(
    user: User, shared_team: Team, sign_up_in_browser: Callable[..., Any]
) -> None:
    _invite_page(_page_client(user, shared_team), "newcomer@example.test", role="analyst")
    link = _link_for("newcomer@example.test")
    visitor = Client()
    landing = visitor.get(link).content.decode()
    assert "Sign up" in landing and f"/accounts/signup?next={link}" in landing
    # The sign-up mail's link leads back to the invitation once the password is set.
    signed_up = sign_up_in_browser(visitor, "newcomer@example.test", PASSWORD, next_path=link)
    assert signed_up.status_code == 302 and signed_up["Location"] == link
    assert visitor.post(link).status_code == 302
    newcomer = User.objects.get(email="newcomer@example.test")
    assert Membership.objects.get(team=shared_team, user=newcomer).role == Role.ANALYST


def test_only_the_invited_address_can_accept(
    user: User, shared_team: Team, make_user: Callable[..., User]
) -> None:
    intruder = make_user("intruder@example.test")
    _invite_page(_page_client(user, shared_team), "colleague@example.test")
    link = _link_for("colleague@example.test")
    browser = Client()
    browser.force_login(intruder)
    refused = browser.post(link)
    assert refused.status_code == 400
    assert "This invitation is for colleague@example.test" in refused.content.decode()
    assert not Membership.objects.filter(team=shared_team, user=intruder).exists()


def test_a_signup_link_off_the_site_is_not_followed(
    sign_up_in_browser: Callable[..., Any],
) -> None:
    answer = sign_up_in_browser(
        Client(), "p@example.test", PASSWORD, next_path="https://evil.example/x"
    )
    assert answer.status_code == 302 and answer["Location"] == "/"


def test_an_expired_withdrawn_or_replaced_link_does_not_work(
    user: User,
    shared_team: Team,
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    colleague = make_user("colleague@example.test")
    browser = Client()
    browser.force_login(colleague)
    owner_page = _page_client(user, shared_team)

    _invite_page(owner_page, colleague.email)
    first = _link_for(colleague.email)
    _invite_page(owner_page, colleague.email, role="analyst")  # replaces the first
    second = _link_for(colleague.email)
    assert browser.get(first).status_code == 404
    assert Invitation.objects.get().role == Role.ANALYST

    owner = api(issue_key(user, shared_team).raw_key)
    listed = owner.get("/api/v1/teams/invitations").json()["results"]
    assert [(row["email"], row["role"]) for row in listed] == [(colleague.email, "analyst")]
    assert "Pending invitations" in owner_page.get("/accounts/teams").content.decode()
    assert owner.delete(f"/api/v1/teams/invitations/{listed[0]['id']}").status_code == 204
    assert browser.get(second).status_code == 404

    _invite_page(owner_page, colleague.email)
    third = _link_for(colleague.email)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert browser.post(third).status_code == 404
    assert not Membership.objects.filter(team=shared_team, user=colleague).exists()


def test_only_owners_invite_list_or_withdraw(
    shared_team: Team,
    user: User,
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    analyst = make_member(shared_team, Role.ANALYST)
    _invite_page(_page_client(user, shared_team), "someone@example.test")
    pending = Invitation.objects.get()
    client = api(issue_key(analyst, shared_team).raw_key)
    assert (
        client.post("/api/v1/teams/members", {"email": "x@example.test"}, format="json").status_code
        == 403
    )
    assert client.get("/api/v1/teams/invitations").status_code == 403
    assert client.delete(f"/api/v1/teams/invitations/{pending.pk}").status_code == 403
    page = _page_client(analyst, shared_team)
    assert _invite_page(page, "y@example.test").status_code == 403
    assert page.post(f"/accounts/teams/invitations/{pending.pk}/withdraw").status_code == 403
    assert Invitation.objects.count() == 1


def test_inviting_is_rate_limited_per_inviter(
    settings: Any,
    user: User,
    shared_team: Team,
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    settings.RATE_LIMIT_ENABLED = True
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_CACHE_PREFIX = f"rl-invite-{uuid.uuid4().hex}:"
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "invite": "3/h"}
    browser = _page_client(user, shared_team)
    for n in range(2):
        assert _invite_page(browser, f"probe{n}@example.test").status_code == 200
    owner = api(issue_key(user, shared_team).raw_key)
    assert (
        owner.post("/api/v1/teams/members", {"email": "p2@example.test"}, format="json").status_code
        == 202
    )
    refused = owner.post("/api/v1/teams/members", {"email": "p3@example.test"}, format="json")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["detail"].startswith("Too many invitations")
    page_refused = _invite_page(browser, "p4@example.test")
    assert page_refused.status_code == 429
    assert "Too many invitations" in page_refused.content.decode()
    assert Invitation.objects.count() == 3


def test_an_existing_member_or_a_personal_team_is_refused_with_the_reason(
    user: User, team: Team, shared_team: Team, owner_api: APIClient
) -> None:
    personal = owner_api.post("/api/v1/teams/members", {"email": "c@example.test"}, format="json")
    assert personal.status_code == 400
    assert "personal team" in personal.json()["detail"]
    twice = _invite_page(_page_client(user, shared_team), user.email)
    assert twice.status_code == 400
    assert "already a member" in twice.content.decode()
