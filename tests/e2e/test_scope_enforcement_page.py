"""The scan page of a sandboxed step in a real browser: the step says it was fenced to scope and
what its sandbox refused, readable at 1280 and at 390 px."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox_lab import ADDRESS_B, Lab
from tests.scans.sandbox.test_blocked_on_the_step import run_wander

pytestmark = [pytest.mark.e2e]


def test_the_scan_page_shows_what_the_sandbox_blocked(
    wander: str, scope_lab: Lab, settings: Any, user: Any, team: Any, authorize: Any,
    make_workflow: Any, page: Any, live_server: Any, login_as: Any, page_errors: list[str],
    screenshot: Any,
) -> None:  # fmt: skip
    step = run_wander(scope_lab, settings, user, team, authorize, make_workflow)
    login_as(user)

    page.goto(f"/scans/{step.scan_id}/")

    detail = page.inner_text("td.detail")
    assert "Network fenced to scope" in detail
    assert f"2 connections to {ADDRESS_B}:8080/tcp were blocked: out of scope" in detail
    shots = screenshot(page, "scan-step-fenced")
    assert shots.overflow_px[390] == 0
    assert page_errors == []
