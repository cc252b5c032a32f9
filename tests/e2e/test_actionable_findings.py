"""An analyst's day with findings they can act on, in a real browser (1280 and 390 px):

group the findings by CVE, accept a whole group with an end date, assign a finding to a team
mate (who is e-mailed), see the due / overdue badges; the accepted group leaves the open counts
of the scan page, the dashboard and the PDF; then the clock is moved past the end date (the
`clock` fixture, no sleeping), the scheduled job reopens the group and a local receiver gets the
team's "accepted risk expired" message."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from integrations.services import integration_create, rule_create
from scans.engine.runtime import FindingData
from scans.models import Finding, OpenFindingsDay, Scan
from scans.reports.dashboard import open_findings_refresh
from scans.tasks import acceptances_expire
from tests.scans.findings.factories import completed_scan

pytestmark = [pytest.mark.e2e]
CVE = "CVE-2024-1111"


def _fits(shots: Any) -> None:
    assert shots.overflow_px == {1280: 0, 390: 0}, shots.overflow_px


@pytest.fixture
def webhook_receiver() -> Iterator[list[dict[str, Any]]]:
    """A local HTTP server standing in for the team's SIEM webhook: records the JSON bodies."""
    bodies: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bodies.append({"url": f"http://127.0.0.1:{server.server_address[1]}/siem"})
    yield bodies
    server.shutdown()
    server.server_close()


def _cve_findings() -> list[FindingData]:
    """CVE-2024-1111 in 12 packages on 5 images, and a few other findings."""
    group = [
        FindingData(
            tool="trivy", severity="high", title=f"{CVE}: heap overflow in libfoo-{p}",
            rule_id=CVE, component=f"libfoo-{p}", version="1.0", fixed_version="1.1",
            location=f"registry.test/app-{p % 5}:1", item=f"registry.test/app-{p % 5}:1",
            cvss_v3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N", cwe_ids=["CWE-787"],
            vuln_ids=[CVE], references=["https://nvd.nist.gov/vuln/detail/CVE-2024-1111"],
        )
        for p in range(12)
    ]  # fmt: skip
    others = [
        FindingData(tool="nuclei", severity="critical", title="Exposed admin console",
                    rule_id="exposed-admin", location="https://app.test/admin",
                    item="https://app.test/", is_kev=True, epss_score=0.91),
        FindingData(tool="trivy", severity="medium", title="CVE-2024-2222 in openssl",
                    rule_id="CVE-2024-2222", component="openssl", version="3.0.1",
                    location="registry.test/app-0:1", item="registry.test/app-0:1"),
    ]  # fmt: skip
    return group + others


def test_grouping_accepting_assigning_and_the_acceptance_expiring(
    page: Any, live_server: Any, page_errors: list[str], screenshot: Callable[..., Any],
    make_user: Callable[..., User], clock: Any, sync_tasks: None, mailoutbox: list[Any],
    webhook_receiver: list[dict[str, Any]], settings: Any, tmp_path: Any,
) -> None:  # fmt: skip
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    owner = make_user("lead@example.test")
    bob = make_user("bob@example.test")
    team = Team.objects.create(name="Blue team")
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    Membership.objects.create(team=team, user=bob, role=Role.ANALYST)
    hook = integration_create(
        team=team, user=owner, kind="webhook", name="SIEM",
        webhook_url=webhook_receiver.pop(0)["url"], signing_secret="x" * 32,
    )  # fmt: skip
    rule_create(team=team, user=owner, event="acceptance_expired", integration_id=hook.pk)

    # A previous scan 40 days ago (its findings are first seen then: the high ones, 30-day SLA,
    # are overdue now), then today's scan.
    clock.advance(days=-40)
    completed_scan(team=team, user=owner, findings=_cve_findings()[:6])
    clock.advance(days=40)
    scan = completed_scan(team=team, user=owner, findings=_cve_findings())
    open_findings_refresh(team.pk)

    def log_in() -> None:
        client = Client()
        client.force_login(owner)
        session = client.session
        session["team_id"] = team.pk  # the shared team, where Bob is a member
        session.save()
        cookie = {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key}
        page.context.add_cookies([{**cookie, "url": live_server.url}])

    log_in()

    # Grouped by CVE: one row for the 12 packages on 5 images.
    page.goto("/findings/?view=groups")
    row = page.locator("tbody.group", has_text=CVE)
    assert "12 packages on 5 assets" in row.inner_text()
    row.locator("button.expand").click()
    row.locator(".group-findings li").first.wait_for()
    assert row.locator(".group-findings li").count() == 12
    # The six seen by the scan 40 days ago are past the 30-day SLA of high findings.
    assert row.locator(".group-findings .badge.sla", has_text="Overdue").count() == 6
    assert "6 overdue" in row.inner_text()
    _fits(screenshot(page, "findings-groups"))

    # Accept the whole group for 30 days.
    row.locator("input[name=rule_ids]").check()
    page.select_option("#t-status", "accepted")
    page.fill("input[name=comment]", "WAF rule 7 blocks the overflow; vendor fix in Q3")
    page.fill("#t-until", (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%d"))
    page.get_by_role("button", name="Apply status").click()
    page.locator(".msg-success", has_text="12 finding(s) marked accepted").wait_for()
    assert page.locator("tbody.group", has_text=CVE).count() == 0  # not open any more
    assert set(Finding.objects.filter(rule_id=CVE).values_list("status", flat=True)) == {"accepted"}

    # The list: due badges; assign the critical finding to Bob from its page.
    page.goto("/findings/?status=")
    accepted_row = page.locator("table.findings tr", has_text="libfoo-1 ").first
    assert "Accepted" in accepted_row.inner_text() and "until" in accepted_row.inner_text()
    critical = page.locator("table.findings tr", has_text="Exposed admin console")
    assert "Due soon" in critical.inner_text() and "KEV" in critical.inner_text()
    _fits(screenshot(page, "findings-list"))
    critical.get_by_role("link", name="Exposed admin console").click()
    page.select_option("#d-assignee", str(bob.pk))
    page.get_by_role("button", name="Assign").click()
    page.locator(".msg-success", has_text="assigned to bob@example.test").wait_for()
    assert "Assigned to bob@example.test" in page.inner_text(".history")
    assert [
        m for m in mailoutbox if m.to == ["bob@example.test"] and "assigned to you" in m.subject
    ]
    _fits(screenshot(page, "finding-detail-owned"))
    grouped = Finding.objects.filter(scan=scan, rule_id=CVE).first()
    assert grouped is not None
    page.goto(f"/findings/{grouped.pk}/")
    facts = page.inner_text("dl.facts")
    assert (
        "CVSS v3.x" in facts
        and "CWE-787" in facts
        and "Risk accepted" in page.inner_text(".accept-box")
    )
    assert (
        page.get_by_role("link", name="CWE-787").get_attribute("href")
        == "https://cwe.mitre.org/data/definitions/787.html"
    )

    # The scan page: the accepted group is not counted as open; its tiles filter the list.
    page.goto(f"/scans/{scan.pk}/")
    page.wait_for_selector(".diff-counts")
    tiles = page.inner_text(".diff-counts")
    assert "0\nStill open" in tiles and "12\nAccepted or false positive" in tiles
    assert "high 0" in page.inner_text(".summary")
    page.locator("a.diff-count", has_text="New").click()
    page.locator("#findings h2", has_text="New").wait_for()
    assert page.locator("#findings table.findings tbody tr").count() == 2  # critical + medium
    with page.expect_download() as download:
        page.get_by_role("link", name="JSON", exact=True).click()
    assert download.value.suggested_filename == f"outpost-scan-{scan.pk}.json"
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert len(exported["results"]) == scan.findings.count()
    _fits(screenshot(page, "scan-tiles"))

    # The dashboard: open counts and groups without the accepted group.
    page.goto("/")
    board = OpenFindingsDay.objects.get(team=team, day=timezone.localdate())
    assert board.counts["high"] == 0 and board.groups == 2
    assert page.inner_text("a.kpi-high b") == "0" and page.inner_text("a.kpi-groups b") == "2"
    _fits(screenshot(page, "dashboard-deadlines"))

    # The PDF's executive summary.
    from weasyprint import HTML

    from scans.reports.pdf import offline_url_fetcher, report_html

    pdf = tmp_path / "report.pdf"
    HTML(string=report_html(scan), url_fetcher=offline_url_fetcher()).write_pdf(pdf)
    from pypdf import PdfReader

    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(pdf).pages[:3])
    assert "reported 14 findings, of which 2 are open" in text

    # 31 days later the acceptance has ended: the scheduled job reopens the group and the team's
    # webhook hears of it.
    clock.advance(days=31)
    assert acceptances_expire() == "12 reopened"
    assert set(Finding.objects.filter(rule_id=CVE).values_list("status", flat=True)) == {"open"}
    assert webhook_receiver and webhook_receiver[0]["event"] == "acceptance_expired"
    assert webhook_receiver[0]["findings_total"] == 12
    log_in()  # the session of 31 days ago has expired
    page.goto("/findings/?view=groups")
    assert page.locator("tbody.group", has_text=CVE).count() == 1
    assert not page_errors, page_errors
    assert Scan.objects.filter(team=team).count() == 2
