"""Progress that means something (issue #20), on a real worker cluster, a real local HTTP server
and Debian's Chromium: a waiting delay shows when it resumes, a long probe shows items done of
the total while it runs, the delay's time is its wait (not "0.0 s"), and the Cancel button goes
when the scan ends."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import Team, User
from scans.models import ScanStep
from scans.services import scan_start
from tests.scanning import wait_scan_done

pytestmark = [pytest.mark.e2e]


def test_a_delay_counts_down_a_long_probe_counts_items_and_cancel_goes_at_the_end(
    page: Any,
    login_as: Callable[[Any], None],
    page_errors: list[str],
    screenshot: Callable[..., Any],
    user: User,
    team: Team,
    worker_cluster: Any,
    authorize: Callable[..., Any],
    make_workflow: Callable[..., Any],
    make_http_server: Callable[..., Any],
) -> None:
    server = make_http_server(delay_s=0.6)
    targets = [authorize(f"{server.url}page-{n}") for n in range(12)]
    workflow = make_workflow(
        [
            {"id": "pause", "type": "delay", "config": {"seconds": 4}},
            {"id": "web", "type": "http_probe",
             "config": {"schemes": "http", "timeout_ms": 5000, "timeout_s": 120}},
        ],
        [("pause", "web")],
    )  # fmt: skip
    worker_cluster.start()
    scan = scan_start(
        team=team, user=user, workflow=workflow, target_ids=[t.pk for t in targets], consent=True
    )
    login_as(user)
    page.goto(f"/scans/{scan.pk}/")
    expect(page.get_by_role("button", name="Cancel scan")).to_be_visible()

    waiting = page.locator(".waiting-note", has_text="pause is waiting")
    expect(waiting).to_be_visible(timeout=20_000)
    assert re.search(r"resumes at \d\d:\d\d:\d\d UTC, in \d s", waiting.inner_text())
    screenshot(page, "scan-waiting")

    items = page.locator(".step-progress", has_text="/12 items")
    expect(items).to_be_visible(timeout=30_000)
    shown = int(re.search(r"(\d+)/12 items", items.inner_text()).group(1))  # type: ignore[union-attr]
    assert 0 <= shown < 12
    screenshot(page, "scan-step-progress")

    scan = wait_scan_done(scan.pk, timeout_s=90)
    assert scan.status == "completed", scan.error
    expect(page.locator(".status.big")).to_have_text("completed", timeout=10_000)
    expect(page.get_by_role("button", name="Cancel scan")).to_have_count(0)
    expect(page.locator("#scan-actions")).to_contain_text("Send to…")
    pause = ScanStep.objects.get(scan=scan, node_id="pause")
    assert pause.waited_s is not None and 3.9 <= pause.waited_s <= 4.5
    expect(page.locator("tr", has_text="pause")).to_contain_text("waited 4")
    assert len(server.hits) == 12
    assert page_errors == []
