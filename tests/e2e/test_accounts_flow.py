"""In a real browser: sign up, get a personal team, create an API key on the page, use it on
the API, revoke it on the page, and watch the API refuse it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from accounts.models import ApiKey, Membership, Role, Team, User
from tests.conftest import signup_link_from_outbox

pytestmark = [pytest.mark.e2e]

PASSWORD = "correct horse battery 9"


def _finish_from_the_mail(page: Any, email: str) -> None:
    """Open the sign-up mail's link (a worker sent it; the task ran inline) and set the password."""
    page.goto(signup_link_from_outbox(email))
    page.wait_for_url("**/set-password")  # the token left the address bar
    page.fill("#id_new_password1", PASSWORD)
    page.fill("#id_new_password2", PASSWORD)
    page.click("main button[type=submit]")


def test_sign_up_create_a_key_use_it_revoke_it(
    page: Any, live_server: Any, page_errors: list[str], sync_tasks: None
) -> None:
    page.goto("/accounts/signup")
    page.fill("#id_email", "Ada@Example.test")
    page.fill("#id_display_name", "Ada")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/accounts/signup/sent")
    assert "Check your e-mail to finish signing up" in page.inner_text("main")
    _finish_from_the_mail(page, "ada@example.test")
    page.wait_for_url(f"{live_server.url}/")
    assert page.inner_text(".team-chip") == "Ada's team · owner"

    user = User.objects.get(email="ada@example.test")
    team = Team.objects.get(personal_owner=user)
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER

    page.click("nav >> text=API keys")
    page.wait_for_url(f"{live_server.url}/accounts/api-keys")
    page.fill("#id_name", "GitLab CI")
    page.select_option("#id_role", "analyst")
    page.click("#api-keys button[type=submit]")
    raw_key = page.inner_text("#new-key").strip()  # waits for the HTMX swap
    assert raw_key.startswith("opk_")
    assert page.locator("tr.state-active").count() == 1

    me = httpx.get(
        f"{live_server.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {raw_key}"}
    )
    assert me.status_code == 200
    assert me.json()["team"] == {"id": team.pk, "name": "Ada's team", "is_personal": True}
    assert me.json()["role"] == "analyst"

    # The key is shown once: a reload does not show it again.
    page.reload()
    assert page.locator("#new-key").count() == 0
    assert raw_key not in page.content()

    page.click("tr.state-active >> text=Revoke")  # hx-confirm: the dialog is accepted
    page.wait_for_selector("tr.state-revoked")
    assert page.locator("tr.state-active").count() == 0
    assert ApiKey.objects.get(team=team).revoked_at is not None

    refused = httpx.get(
        f"{live_server.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {raw_key}"}
    )
    assert refused.status_code == 401
    assert refused.json()["detail"] == "This API key has been revoked."
    assert page_errors == []


def test_revoking_asks_for_confirmation_first(
    page: Any, login_as: Any, dialogs: Any, user: User, team: Team, issue_key: Any
) -> None:
    issue_key(user, team, name="keep me")
    login_as(user)
    page.goto("/accounts/api-keys")
    dialogs.accept = False
    page.click("tr.state-active >> text=Revoke")
    page.wait_for_timeout(300)
    assert dialogs.messages == ["Revoke “keep me”? Anything using it gets 401 from now on."]
    assert ApiKey.objects.get(name="keep me").revoked_at is None
    assert page.locator("tr.state-active").count() == 1


def test_logging_in_and_out_in_the_browser(page: Any, live_server: Any, user: User) -> None:
    page.goto("/")
    page.wait_for_url(f"{live_server.url}/accounts/login?next=/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", "wrong password 000")
    page.click("button[type=submit]")
    assert "Please enter a correct" in page.inner_text(".form-errors")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.inner_text(".team-chip") == "analyst's team · owner"
    page.click("text=Log out")
    page.wait_for_url(f"{live_server.url}/accounts/login")


def test_an_owner_changes_a_role_and_removes_a_member_in_the_browser(
    page: Any,
    login_as: Any,
    dialogs: Any,
    user: User,
    make_user: Any,
    issue_key: Any,
    live_server: Any,
) -> None:
    from accounts.models import Membership
    from accounts.services import team_create

    red = team_create(name="Red team", owner=user)
    colleague = make_user("colleague@example.test")
    membership = Membership.objects.create(team=red, user=colleague, role="analyst")
    key = issue_key(colleague, red)
    login_as(user)
    page.goto("/accounts/teams")
    page.click(f"form:has(input[name=team_id][value='{red.pk}']) button")
    page.wait_for_selector("text=Members of Red team")

    page.select_option(f"select[aria-label='Role of {colleague.email}']", "viewer")
    page.wait_for_function(
        "() => document.querySelector(\"select[aria-label='Role of colleague@example.test']\")"
        " && document.querySelector(\"select[aria-label='Role of colleague@example.test']\").value === 'viewer'"
    )
    page.wait_for_timeout(300)
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER

    page.click(f"tr:has-text('{colleague.email}') >> text=Remove")
    page.wait_for_selector(f"tr:has-text('{colleague.email}')", state="detached")
    assert dialogs.messages == [
        f"Remove {colleague.email} from Red team? Their API keys in this team stop working."
    ]
    assert not Membership.objects.filter(pk=membership.pk).exists()
    refused = httpx.get(
        f"{live_server.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {key.raw_key}"}
    )
    assert refused.status_code == 401


def test_an_invited_person_signs_up_from_the_mailed_link_and_joins(
    page: Any,
    live_server: Any,
    user: User,
    sync_tasks: None,
    page_errors: list[str],
    screenshot: Any,
) -> None:
    import re

    from django.core import mail

    from accounts.invitations import team_member_invite
    from accounts.services import team_create

    red = team_create(name="Red team", owner=user)
    team_member_invite(team=red, inviter=user, email="grace@example.test", role="analyst")
    found = re.search(r"(/accounts/invitations/\S+)", str(mail.outbox[-1].body))
    assert found is not None

    page.goto(found.group(1))
    assert "Join Red team" in page.inner_text("main")
    screenshot(page, "invitation-anonymous")
    page.click("main >> text=Sign up")
    page.fill("#id_email", "grace@example.test")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/accounts/signup/sent")
    _finish_from_the_mail(page, "grace@example.test")  # it leads back to the invitation
    page.wait_for_selector("text=Accept and join")
    shots = screenshot(page, "invitation-accept")
    assert shots.overflow_px[390] == 0
    page.click("text=Accept and join")
    page.wait_for_url(f"{live_server.url}/accounts/teams")
    assert page.inner_text(".team-chip") == "Red team · analyst"
    grace = User.objects.get(email="grace@example.test")
    assert Membership.objects.get(team=red, user=grace).role == Role.ANALYST
    assert page_errors == []
