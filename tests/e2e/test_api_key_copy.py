"""The one-time API key has a copy button (issue #20), and a second live key with the same
name is refused next to the name field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import User

pytestmark = [pytest.mark.e2e]


def test_the_one_time_key_is_copied_with_one_click_and_a_duplicate_name_is_refused(
    page: Any,
    login_as: Callable[[Any], None],
    user: User,
    page_errors: list[str],
    screenshot: Callable[..., Any],
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login_as(user)
    page.goto("/accounts/api-keys")
    page.fill("#id_name", "GitLab CI")
    page.click("#api-keys button[type=submit]")
    raw_key = page.inner_text("#new-key").strip()
    page.click('button[data-copy="#new-key"]')
    page.wait_for_selector("#copy-status:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == raw_key
    screenshot(page, "api-key-copy")

    page.fill("#id_name", "gitlab ci")
    page.click("#api-keys button[type=submit]")
    page.wait_for_selector("#api-keys .error")
    assert "already have a key named “GitLab CI”" in page.inner_text("#api-keys")
    assert page.locator("#new-key").count() == 0
    assert page.locator("tr.state-active").count() == 1
    assert [e for e in page_errors if "400 (Bad Request)" not in e] == []
