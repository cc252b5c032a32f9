"""A demo run started from the builder's Run panel (issue #20): the scan page says demo
everywhere and lists the synthetic findings on the steps and in its findings table, each badged
demo, in Debian's Chromium on a real worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import Team, User
from scans.models import Finding, Scan
from workflows.services import workflow_create_from_template

pytestmark = [pytest.mark.e2e]


def test_a_demo_run_from_the_builder_shows_a_full_run_marked_demo(
    page: Any,
    login_as: Callable[[Any], None],
    page_errors: list[str],
    screenshot: Callable[..., Any],
    user: User,
    team: Team,
    worker_cluster: Any,
    authorize: Callable[..., Any],
) -> None:
    authorize("shop.example.test")
    workflow = workflow_create_from_template(team=team, user=user, template_key="quick-recon")
    worker_cluster.start()
    login_as(user)
    page.goto(f"/workflows/{workflow.pk}/")
    page.check("#run input[name=targets]")
    page.check("#run input[name=authorize_targets]")
    page.click("#run button[value=demo]")
    page.locator("#run .run-result.started a").click()
    expect(page.locator("h1 .badge")).to_have_text("demo")
    expect(page.locator(".status.big")).to_have_text("completed", timeout=30_000)
    expect(page.locator(".demo-lines").first).to_contain_text("[demo]")
    scan = Scan.objects.get(workflow=workflow)
    rows = Finding.objects.filter(scan=scan)
    assert scan.mode == "demo" and rows.exists() and all(r.is_demo for r in rows)
    page.reload()  # the findings table is rendered with the page
    expect(page.locator("#findings table.findings .badge.warn").first).to_have_text("demo")
    shots = screenshot(page, "scan-demo")
    assert shots.overflow_px == {1280: 0, 390: 0}
    page.locator("#findings table.findings a").first.click()
    expect(page.locator("h1 .badge")).to_have_text("demo")
    expect(page.get_by_role("heading", name="Demo finding")).to_be_visible()
    shots = screenshot(page, "finding-demo")
    assert shots.overflow_px == {1280: 0, 390: 0}
    page.goto("/scans/")
    expect(page.locator("td", has_text="Quick recon").locator(".badge")).to_have_text("demo")
    assert page_errors == []
