"""Every accounts page in a real browser at 1280 and 390 px: it renders under the CSP without a
console error, fits the width, and is saved as a screenshot to look at (var/screenshots/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.invitations import team_member_invite
from accounts.models import Membership, Role, Team, User
from accounts.services import IssuedKey, team_create
from tests.conftest import signup_link_from_outbox

pytestmark = [pytest.mark.e2e]


def _assert_fits(shots: Any) -> None:
    assert shots.overflow_px == {1280: 0, 390: 0}


def test_the_public_pages(
    page: Any, page_errors: list[str], screenshot: Callable[..., Any], db: None
) -> None:
    page.goto("/accounts/login")
    _assert_fits(screenshot(page, "accounts-login"))
    page.fill("#id_username", "nobody@example.test")
    page.fill("#id_password", "wrong password 000")
    page.click("button[type=submit]")
    page.wait_for_selector(".form-errors")
    _assert_fits(screenshot(page, "accounts-login-error"))

    page.goto("/accounts/signup")
    _assert_fits(screenshot(page, "accounts-signup"))
    page.fill("#id_email", "not-an-email")
    page.click("main button[type=submit]")
    page.wait_for_selector(".has-error")
    _assert_fits(screenshot(page, "accounts-signup-errors"))
    assert page_errors == []


def test_the_sign_up_pages(
    page: Any, page_errors: list[str], screenshot: Callable[..., Any], sync_tasks: None
) -> None:
    """The page a taken and a free address both land on, the mailed link's password form (with
    an error), and the page of a spent link."""
    page.goto("/accounts/signup")
    page.fill("#id_email", "newcomer-with-a-rather-long-address@example.test")
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/signup/sent")
    assert "Check your e-mail to finish signing up" in page.inner_text("main")
    _assert_fits(screenshot(page, "accounts-signup-sent"))

    link = signup_link_from_outbox("newcomer-with-a-rather-long-address@example.test")
    page.goto(link)
    page.wait_for_url("**/set-password")
    _assert_fits(screenshot(page, "accounts-signup-finish"))
    page.fill("#id_new_password1", "12345")
    page.fill("#id_new_password2", "12345")
    page.click("main button[type=submit]")
    page.wait_for_selector(".has-error")
    _assert_fits(screenshot(page, "accounts-signup-finish-errors"))
    page.fill("#id_new_password1", "correct horse battery 9")
    page.fill("#id_new_password2", "correct horse battery 9")
    page.click("main button[type=submit]")
    page.wait_for_selector(".team-chip")

    page.goto(link)
    assert "This link does not work" in page.inner_text("main")
    _assert_fits(screenshot(page, "accounts-signup-link-spent"))
    # The spent link's page is a 404: the browser logs its load as a failed resource.
    assert [e for e in page_errors if "404" not in e] == []


def test_the_signed_in_pages(
    page: Any,
    page_errors: list[str],
    login_as: Callable[[User], None],
    screenshot: Callable[..., Any],
    user: User,
    team: Team,
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    sync_tasks: None,
) -> None:
    shared = team_create(name="Red team", owner=user)
    for n, role in enumerate((Role.ANALYST, Role.VIEWER)):
        colleague = make_user(f"colleague-{n}-with-a-rather-long-address@example.test")
        Membership.objects.create(team=shared, user=colleague, role=role)
    team_member_invite(
        team=shared, inviter=user, email="invited-with-a-long-address@example.test", role="viewer"
    )
    issue_key(user, team, name="GitLab CI")
    issue_key(user, team, name="nightly scan", role=Role.VIEWER)
    login_as(user)

    page.goto("/")
    _assert_fits(screenshot(page, "home"))
    # Every nav link and the account block fit in one row of the top bar at 1280 px.
    assert page.locator("header.topbar").bounding_box()["height"] < 60

    page.goto("/accounts/api-keys")
    page.fill("#id_name", "GitHub Actions deploy")
    page.fill("#id_expires_in_days", "90")
    page.click("#api-keys button[type=submit]")
    page.wait_for_selector("#new-key")
    _assert_fits(screenshot(page, "accounts-api-keys-new-key"))

    page.goto("/accounts/teams")
    _assert_fits(screenshot(page, "accounts-teams-personal"))
    page.click("form:has(input[name=team_id]) button")  # switch to Red team
    page.wait_for_selector("text=Members of Red team")
    _assert_fits(screenshot(page, "accounts-teams-shared"))

    page.goto("/accounts/password")
    _assert_fits(screenshot(page, "accounts-password"))

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    page.click("label.nav-toggle-label")
    page.wait_for_selector("nav.nav a >> text=API keys", state="visible")
    _assert_fits(screenshot(page, "nav-open"))
    assert page_errors == []


@pytest.mark.parametrize("width", [800, 1024, 1179, 1180, 1280, 1440, 1600, 1920])
def test_the_top_bar_is_one_row_at_every_desktop_width(
    page: Any, login_as: Callable[[User], None], user: User, width: int
) -> None:
    # From 701 px to ~1150 px the nine sections and the account area wrapped into two or three
    # rows; below 1180 px they now fold into the Menu button, as on a phone.
    page.set_viewport_size({"width": width, "height": 800})
    login_as(user)
    page.goto("/")
    bar = page.locator("header.topbar, .topbar").first.bounding_box()
    assert bar is not None and bar["height"] < 64, (width, bar)
    folded = page.locator("label.nav-toggle-label").is_visible()
    assert folded == (width < 1180)
    assert page.locator("nav.nav a >> text=API docs").is_visible() == (not folded)
    if folded:
        page.click("label.nav-toggle-label")
        page.wait_for_selector("nav.nav a >> text=API docs", state="visible")


def test_the_api_docs_load_under_the_csp(
    page: Any, page_errors: list[str], screenshot: Callable[..., Any], db: None
) -> None:
    page.goto("/api/docs")
    page.wait_for_selector(".opblock-tag-section", timeout=30_000)
    assert page.locator(".opblock").count() >= 10
    assert page.get_by_text("/api/v1/auth/register", exact=True).count() >= 1
    screenshot(page, "api-docs")
    assert page_errors == []


def test_the_page_for_an_account_in_no_team(
    page: Any,
    page_errors: list[str],
    login_as: Callable[[User], None],
    screenshot: Callable[..., Any],
    db: None,
) -> None:
    login_as(User.objects.create_user("loner@example.test", "correct horse battery 9"))
    page.goto("/")
    assert page.inner_text("h1") == "No team yet"
    _assert_fits(screenshot(page, "home-no-team"))
    assert page_errors == []
