"""The scan pages in a real browser: start (consent error next to the box, dry run plan), the
live page of a finished scan, and deletion behind a confirmation."""

from __future__ import annotations

from typing import Any

import pytest

from scans.models import Scan

pytestmark = [pytest.mark.e2e]


def test_starting_a_scan_from_the_page_shows_errors_then_the_dry_run_plan(
    page: Any,
    live_server: Any,
    login_as: Any,
    user: Any,
    authorize: Any,
    make_workflow: Any,
    page_errors: list[str],
    screenshot: Any,
) -> None:
    authorize("127.0.0.1")
    make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "8080"}}], name="Ports")
    login_as(user)
    page.goto("/scans/new")
    page.select_option("#id_workflow", label="Ports")
    page.check("input[name=targets]")

    page.click("button[value=run]")  # no consent given
    page.wait_for_selector(".field.checkbox .error")
    assert "authorized" in page.inner_text(".field.checkbox .error")
    assert Scan.objects.count() == 0

    page.check("#id_authorize_targets")
    page.click("button[value=dry_run]")
    page.wait_for_selector("text=Plan")
    assert "builtin:port_scan --ports 8080" in page.inner_text(".plan-steps")
    assert "in scope" in page.inner_text("#start")
    shots = screenshot(page, "scan-dry-run")
    assert shots.overflow_px[390] == 0
    scan = Scan.objects.get()
    assert scan.mode == "dry_run"
    assert [e for e in page_errors if "400" not in e] == []


def test_deleting_a_scan_asks_first(
    page: Any,
    live_server: Any,
    login_as: Any,
    user: Any,
    team: Any,
    authorize: Any,
    make_workflow: Any,
    dialogs: Any,
    screenshot: Any,
) -> None:
    from scans.services import scan_start

    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "8080"}}])
    scan = scan_start(
        team=team,
        user=user,
        workflow=workflow,
        target_ids=[target.pk],
        consent=True,
        mode="dry_run",
    )
    login_as(user)
    page.goto(f"/scans/{scan.pk}/")
    screenshot(page, "scan-detail")

    dialogs.accept = False
    page.click("text=Delete")
    page.wait_for_timeout(500)
    assert dialogs.messages and "Delete scan" in dialogs.messages[-1]
    assert Scan.objects.filter(pk=scan.pk).exists()

    dialogs.accept = True
    page.click("text=Delete")
    page.wait_for_url("**/scans/")
    assert not Scan.objects.filter(pk=scan.pk).exists()
    assert f"Scan #{scan.pk} deleted" in page.inner_text("main")


def test_a_submission_past_the_scan_limit_shows_the_wait_above_the_form(
    page: Any,
    live_server: Any,
    login_as: Any,
    user: Any,
    authorize: Any,
    make_workflow: Any,
    settings: Any,
    page_errors: list[str],
    screenshot: Any,
) -> None:
    import uuid

    settings.RATE_LIMIT_ENABLED = True
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_CACHE_PREFIX = f"rl-e2e-{uuid.uuid4().hex}:"
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "scan": "1/h"}
    authorize("127.0.0.1")
    make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "8080"}}], name="Ports")
    login_as(user)
    page.goto("/scans/new")
    page.select_option("#id_workflow", label="Ports")
    page.check("input[name=targets]")
    page.check("#id_authorize_targets")
    page.click("button[value=dry_run]")
    page.wait_for_selector("text=Plan")

    page.click("button[value=dry_run]")  # the second in the hour: refused, the form stays
    page.wait_for_selector(".form-errors")
    assert "Too many scans submitted" in page.inner_text(".form-errors")
    assert page.is_checked("#id_authorize_targets")
    shots = screenshot(page, "scan-rate-limited")
    assert shots.overflow_px[390] == 0
    assert Scan.objects.count() == 1
    assert [e for e in page_errors if "429" not in e] == []
