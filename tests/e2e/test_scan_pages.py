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
