"""The findings page (with bulk triage), a finding, the scan page with its diff and report panel,
and the dashboard, in a real browser at 1280 and 390 px: no console or CSP error, nothing wider
than the screen, screenshots saved to look at (var/screenshots/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Team, User
from scans.models import Finding, OpenFindingsDay, Scan
from scans.reports.dashboard import open_findings_refresh
from targets.services import target_create
from tests.scans.findings.factories import completed_scan, realistic_findings

pytestmark = [pytest.mark.e2e]


def _assert_fits(shots: Any) -> None:
    assert shots.overflow_px == {1280: 0, 390: 0}


@pytest.fixture
def two_scans(user: User, team: Team) -> tuple[Scan, Scan]:
    data = realistic_findings(120)
    first = completed_scan(
        team=team, user=user, findings=data[:100] + realistic_findings(12, seed=4)
    )
    second = completed_scan(team=team, user=user, findings=data)
    open_findings_refresh(team.pk)
    today = timezone.localdate()
    row = OpenFindingsDay.objects.get(team=team, day=today)
    for days in range(1, 30, 3):  # a month of history for the trend
        scale = 1 + days / 40
        OpenFindingsDay.objects.create(
            team=team, day=today - timedelta(days=days), total=0,
            counts={s: int(n * scale) for s, n in row.counts.items()},
        )  # fmt: skip
    target_create(team=team, user=user, value="shop.example.test", note="pentest contract 42",
                  expires_at=timezone.now() + timedelta(days=5))  # fmt: skip
    Scan.objects.create(
        team=team, workflow_name="Nightly perimeter", status="running", steps_total=5, steps_done=2
    )
    return first, second


def test_the_findings_pages_and_the_dashboard(
    page: Any,
    page_errors: list[str],
    login_as: Callable[[User], None],
    screenshot: Callable[..., Any],
    user: User,
    two_scans: tuple[Scan, Scan],
) -> None:
    _, second = two_scans
    login_as(user)

    page.goto("/")
    page.wait_for_selector("svg.chart")
    _assert_fits(screenshot(page, "dashboard"))

    page.goto("/findings/")
    page.wait_for_selector("table.findings")
    _assert_fits(screenshot(page, "findings-list"))
    page.select_option("#f-sev", "high")
    # Wait for the filtered table itself: the unfiltered one already has high rows, and ticking
    # boxes in a table that is about to be swapped out loses the selection.
    # (a selector, not wait_for_function: the strict CSP forbids the eval it would need)
    page.wait_for_selector("table.findings tbody tr:not(:has(.sev-high))", state="detached")
    page.wait_for_load_state("networkidle")
    boxes = page.locator("input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("#t-status", "false_positive")
    page.fill("input[name=comment]", "lab host, not exposed")
    page.click(".triage-bar button")
    page.wait_for_selector(".msg-success")
    assert "2 finding(s) marked false positive" in page.inner_text(".msg-success")
    _assert_fits(screenshot(page, "findings-triaged"))
    assert Finding.objects.filter(scan=second, status="false_positive").count() == 2

    first_id = Finding.objects.filter(scan=second, status="false_positive").order_by("pk")[0].pk
    page.goto(f"/findings/{first_id}/")
    page.wait_for_selector(".history li")
    assert "lab host, not exposed" in page.inner_text(".history")
    _assert_fits(screenshot(page, "finding-detail"))

    page.goto(f"/scans/{second.pk}/")
    page.wait_for_selector(".diff-counts")
    page.wait_for_selector(".report-panel")
    counts = page.inner_text(".diff-counts")
    # 100 findings in both scans, one of them triaged earlier in this test: not counted as open.
    assert "New" in counts and "Fixed" in counts and "99\nStill open" in counts
    assert "Accepted or false positive" in counts
    _assert_fits(screenshot(page, "scan-detail-diff"))
    assert page_errors == []
