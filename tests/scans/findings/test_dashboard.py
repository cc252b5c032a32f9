"""The dashboard (home page) and GET /api/v1/metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scans.models import Finding, OpenFindingsDay, Scan
from scans.reports.dashboard import open_findings_refresh, open_findings_trend
from scans.signals import scan_finished
from tests.scans.findings.factories import realistic_findings, severity_mix

pytestmark = pytest.mark.django_db


def test_a_finished_scan_refreshes_the_open_counts_and_top_assets(
    make_scan: Callable[..., Any], team: Any, sync_tasks: None
) -> None:
    data = realistic_findings(50)
    scan = make_scan(data)
    scan_finished.send(sender=Scan, scan_id=scan.pk)
    today = OpenFindingsDay.objects.get(team=team, day=timezone.localdate())
    assert today.counts == severity_mix(data)
    assert today.total == 50
    worst = today.top_assets[0]
    assert worst["score"] == max(a["score"] for a in today.top_assets)
    assert Finding.objects.filter(team=team, item=worst["item"]).exists()


def test_triage_lowers_the_open_counts(
    make_scan: Callable[..., Any],
    owner_api: Any,
    team: Any,
    sync_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    scan = make_scan(20)
    open_findings_refresh(team.pk)
    ids = list(scan.findings.filter(severity__in=["high", "critical"]).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        owner_api.post(
            "/api/v1/findings/triage",
            {"ids": ids, "status": "accepted", "comment": "compensating control",
             "accepted_until": (timezone.now() + timedelta(days=30)).isoformat()},
            format="json",
        )  # fmt: skip
    counts = OpenFindingsDay.objects.get(team=team, day=timezone.localdate()).counts
    assert counts["high"] == counts["critical"] == 0


def test_the_trend_carries_days_without_changes_forward(team: Any) -> None:
    today = timezone.localdate()
    OpenFindingsDay.objects.create(
        team=team, day=today - timedelta(days=40), counts={"high": 7}, total=7
    )
    OpenFindingsDay.objects.create(
        team=team, day=today - timedelta(days=10), counts={"high": 3, "low": 1}, total=4
    )
    points = open_findings_trend(team)
    assert len(points) == 30
    assert points[0][1]["high"] == 7
    assert points[18][1]["high"] == 7 and points[19][1]["high"] == 3
    assert points[-1][1] == {"critical": 0, "high": 3, "medium": 0, "low": 1, "info": 0}


def test_the_home_page_is_the_dashboard_with_server_drawn_charts(
    make_scan: Callable[..., Any], client: Any, user: Any, team: Any
) -> None:
    scan = make_scan(30)
    open_findings_refresh(team.pk)
    running = Scan.objects.create(
        team=team, workflow_name="Nightly", status="running", steps_total=4, steps_done=1
    )
    client.force_login(user)
    client.get("/")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count("<svg") >= 2 and "Open findings, last 30 days" in html
    assert f"#{running.pk}" in html and f"#{scan.pk}" in html
    assert "Top assets by risk" in html and "Authorizations expiring" in html
    make_scan(realistic_findings(200, seed=11))
    with CaptureQueriesContext(connection) as more:
        client.get("/")
    assert len(more.captured_queries) == len(queries.captured_queries)
    live = client.get("/scans/running").content.decode()
    assert 'hx-trigger="every 3s"' in live and "Nightly" in live


def test_metrics_give_the_team_figures(
    make_scan: Callable[..., Any], owner_api: Any, team: Any
) -> None:
    data = realistic_findings(25)
    make_scan(data)
    Scan.objects.create(team=team, workflow_name="broken", status="failed")
    open_findings_refresh(team.pk)
    body = owner_api.get("/api/v1/metrics").json()
    assert body["scans"] == 2
    assert body["scans_by_status"]["completed"] == 1 and body["scans_by_status"]["failed"] == 1
    assert body["success_rate"] == 0.5
    assert body["active_api_keys"] == 1
    assert body["open_findings"] == severity_mix(data)
    assert "all_teams" not in body


def test_staff_also_get_totals_across_teams(
    make_scan: Callable[..., Any], owner_api: Any, user: Any, make_user: Callable[..., Any]
) -> None:
    from accounts.models import Team

    make_scan(5, team=Team.objects.get(personal_owner=make_user("other@example.test")))
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    body = owner_api.get("/api/v1/metrics").json()
    assert body["scans"] == 0
    assert body["all_teams"]["scans"] == 1
    assert body["all_teams"]["open_findings_total"] == 5


def test_the_dashboard_counts_overdue_findings_and_open_groups_never_accepted_ones(
    make_scan: Callable[..., Any], team: Any, owner_api: Any, client: Any, user: Any,
    clock: Any, sync_tasks: None, django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    from scans.engine.runtime import FindingData

    make_scan([
        FindingData(tool="trivy", severity="critical", title=f"CVE-2024-1 in p{i}", rule_id="CVE-2024-1",
                    component=f"p{i}", location=f"img{i % 2}", item=f"img{i % 2}")
        for i in range(3)
    ] + [FindingData(tool="trivy", severity="low", title="CVE-2024-2", rule_id="CVE-2024-2", location="img0")])  # fmt: skip
    clock.advance(days=8)  # the critical ones (7-day SLA) are overdue, the low one (180) is not
    board = open_findings_refresh(team.pk)
    assert board is not None and (board.overdue, board.groups) == (3, 2)
    assert board.top_groups[0]["rule_id"] == "CVE-2024-1" and board.top_groups[0]["assets"] == 2
    ids = list(Finding.objects.filter(rule_id="CVE-2024-1").values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        owner_api.post(
            "/api/v1/findings/triage",
            {"ids": ids, "status": "accepted", "comment": "isolated",
             "accepted_until": (timezone.now() + timedelta(days=30)).isoformat()},
            format="json",
        )  # fmt: skip
    board = OpenFindingsDay.objects.get(team=team, day=timezone.localdate())
    assert (board.overdue, board.groups, board.counts["critical"]) == (0, 1, 0)
    metrics = owner_api.get("/api/v1/metrics").json()
    assert metrics["open_groups"] == 1 and metrics["overdue_findings"] == 0
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "rules / CVEs open" in page and "CVE-2024-2" in page
