"""Target pickers (issue #20) on New scan, Schedule and the builder's Run panel, in Debian's
Chromium: search, kind filter, select all of the filtered set only, IDN domains in Unicode with
their punycode beside."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import Team, User
from targets.services import target_create
from targets.templatetags.target_tags import idn_unicode
from workflows.services import workflow_create_from_template

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def many_targets(team: Team, user: User) -> None:
    values = ["bücher.example", "127.0.0.1", "127.0.0.2", "http://shop.example.test/",
              "10.20.0.0/24", *[f"host-{n}.example.test" for n in range(12)]]  # fmt: skip
    for value in values:
        target_create(team=team, user=user, value=value, note="engagement 42")


def checked(page: Any) -> list[str]:
    return page.locator(".picker-list input:checked").evaluate_all(
        "els => els.map(e => e.closest('li').querySelector('.picker-value').textContent)"
    )


@pytest.mark.parametrize("path", ["/scans/new", "/integrations/schedules/new"])
def test_a_picker_searches_filters_by_kind_and_selects_all_that_is_shown(
    page: Any,
    login_as: Callable[[Any], None],
    page_errors: list[str],
    screenshot: Callable[..., Any],
    user: User,
    many_targets: None,
    path: str,
) -> None:
    login_as(user)
    page.goto(path)
    picker = page.locator("[data-picker]")
    expect(picker.locator("[data-picker-count]")).to_have_text("17 of 17 shown · 0 chosen")
    # The IDN domain in Unicode, the stored punycode beside it.
    row = picker.locator("li", has_text="bücher.example")
    expect(row.locator(".punycode")).to_have_text("xn--bcher-kva.example")
    # Search: by the Unicode or the punycode form.
    picker.locator("[data-picker-search]").fill("bücher")
    expect(picker.locator(".picker-list li:not([hidden])")).to_have_count(1)
    picker.locator("[data-picker-search]").fill("xn--bcher")
    expect(picker.locator(".picker-list li:not([hidden])")).to_have_count(1)
    # Kind filter, then select all of what is shown: only the IPs.
    picker.locator("[data-picker-search]").fill("")
    picker.locator("[data-picker-kind]").select_option("ip")
    expect(picker.locator("[data-picker-count]")).to_have_text("2 of 17 shown · 0 chosen")
    picker.locator("[data-picker-all]").check()
    expect(picker.locator("[data-picker-count]")).to_have_text("2 of 17 shown · 2 chosen")
    picker.locator("[data-picker-kind]").select_option("")
    assert sorted(checked(page)) == ["127.0.0.1", "127.0.0.2"]
    # Enter in the search box does not submit the form.
    picker.locator("[data-picker-search]").press("Enter")
    assert page.url.endswith(path)
    shots = screenshot(page, "picker" + path.replace("/", "-").rstrip("-"))
    assert shots.overflow_px == {1280: 0, 390: 0}
    assert page_errors == []


def test_the_builders_run_panel_has_the_same_picker(
    page: Any, login_as: Callable[[Any], None], page_errors: list[str], user: User, team: Team,
    many_targets: None,
) -> None:  # fmt: skip
    workflow = workflow_create_from_template(team=team, user=user, template_key="quick-recon")
    login_as(user)
    page.goto(f"/workflows/{workflow.pk}/")
    picker = page.locator("#run [data-picker]")
    expect(picker.locator("[data-picker-count]")).to_have_text("17 of 17 shown · 0 chosen")
    picker.locator("[data-picker-search]").fill("host-1")
    expect(picker.locator(".picker-list li:not([hidden])")).to_have_count(3)  # 1, 10, 11
    assert page_errors == []


def test_idn_values_are_shown_in_unicode_and_others_unchanged() -> None:
    assert idn_unicode("xn--bcher-kva.example") == "bücher.example"
    assert idn_unicode("*.xn--bcher-kva.example") == "*.bücher.example"
    assert idn_unicode("https://xn--bcher-kva.example/path") == "https://bücher.example/path"
    assert idn_unicode("10.0.0.0/8") == "10.0.0.0/8"
    assert idn_unicode("xn--not-valid-idna") == "xn--not-valid-idna"
