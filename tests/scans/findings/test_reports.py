"""PDF reports: rendered by a real worker (never in the request), 202 + Location until ready, a
valid PDF (parsed, and page 1 drawn to PNG by pdftoppm) whose text has the severity counts."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from scans.models import Report
from scans.reports.pdf import offline_url_fetcher, report_html
from tests.scans.findings.factories import realistic_findings, severity_mix
from tests.workers import wait_for


def test_a_report_of_a_scan_with_1000_findings_is_made_by_the_worker(
    make_scan: Callable[..., Any], owner_api: Any, worker: Any, tmp_path: Path
) -> None:
    data = realistic_findings(1000)
    make_scan(data[:900] + realistic_findings(40, seed=5))
    scan = make_scan(data)

    first = owner_api.get(f"/api/v1/scans/{scan.pk}/report.pdf")
    assert first.status_code == 202, first.content
    assert first["Location"] == f"/api/v1/scans/{scan.pk}/report.pdf"
    report = Report.objects.get(scan=scan)
    assert report.status in ("queued", "rendering")  # the request did not render it

    def ready() -> Any:
        response = owner_api.get(first["Location"])
        if response.status_code == 200:
            return response
        assert response.status_code == 202, response.content
        return None

    response = wait_for(ready, timeout_s=600, interval_s=1, what="the PDF report")
    assert response["Content-Type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"".join(response.streaming_content))
    assert pdf.read_bytes().startswith(b"%PDF-")

    reader = PdfReader(pdf)
    assert len(reader.pages) > 5
    summary = " ".join(" ".join((reader.pages[i].extract_text() or "").split()) for i in range(3))
    mix = severity_mix(data)
    assert "reported 1000 findings" in summary
    for severity, n in mix.items():
        assert f"{severity.capitalize()} {n}" in summary
    # Against the previous scan: 100 findings are new, 40 gone, 900 in both.
    assert "100 new, 40 fixed, 900 still open" in summary
    report.refresh_from_db()
    assert report.status == "ready" and report.pages == len(reader.pages)

    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.fail("pdftoppm (poppler-utils) is required")
    subprocess.run(
        [pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    png = next(tmp_path.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_rendering_fetches_nothing_from_the_network(make_scan: Callable[..., Any]) -> None:
    from weasyprint import HTML

    fetcher = offline_url_fetcher()
    html = report_html(make_scan(3)).replace(
        "</body>",
        '<img src="http://127.0.0.1:9/x.png"><link rel="stylesheet" href="file:///etc/passwd"></body>',
    )
    HTML(string=html, url_fetcher=fetcher).write_pdf()
    assert sorted(fetcher.refused) == ["file:///etc/passwd", "http://127.0.0.1:9/x.png"]


@pytest.mark.django_db
def test_a_running_scan_has_no_report_yet(make_scan: Callable[..., Any], owner_api: Any) -> None:
    scan = make_scan(2)
    scan.status = "running"
    scan.save(update_fields=["status"])
    response = owner_api.get(f"/api/v1/scans/{scan.pk}/report.pdf")
    assert response.status_code == 409
    assert not Report.objects.filter(scan=scan).exists()


@pytest.mark.django_db
def test_the_scan_page_offers_the_report_and_shows_its_progress(
    make_scan: Callable[..., Any], client: Any, user: Any
) -> None:
    scan = make_scan(2)
    client.force_login(user)
    panel = client.get(f"/scans/{scan.pk}/report").content.decode()
    assert "Make PDF report" in panel
    queued = client.post(f"/scans/{scan.pk}/report", HTTP_HX_REQUEST="true").content.decode()
    assert "Waiting for a worker" in queued and 'hx-trigger="every 2s"' in queued
    assert Report.objects.get(scan=scan).status == "queued"


def test_the_pdf_summarises_open_findings_groups_and_reads_cvss_as_a_line(
    make_scan: Callable[..., Any], owner_api: Any, tmp_path: Path
) -> None:
    """A real Trivy report: the summary counts open findings only (an accepted one is not), lists
    the top groups, and each finding's CVSS/CWE is one readable line, not a dump of the tool's
    nested CVSS keys."""
    from datetime import timedelta

    from django.utils import timezone
    from weasyprint import HTML

    from scans.tools import trivy
    from tests.scanning import SCANNER_OUTPUTS

    parsed = trivy.parse((SCANNER_OUTPUTS / "trivy/scheme_2_many_vulns.json").read_bytes())
    scan = make_scan(parsed.findings)
    freetype = scan.findings.get(rule_id="CVE-2020-15999")
    owner_api.post(
        f"/api/v1/findings/{freetype.pk}/triage",
        {"status": "accepted", "comment": "not reachable",
         "accepted_until": (timezone.now() + timedelta(days=20)).isoformat()},
        format="json",
    )  # fmt: skip
    pdf = tmp_path / "report.pdf"
    HTML(string=report_html(scan), url_fetcher=offline_url_fetcher()).write_pdf(pdf)
    reader = PdfReader(pdf)
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
    total = len(parsed.findings)
    assert f"reported {total} findings, of which {total - 1} are open" in text
    assert "Top groups (open findings by rule / CVE)" in text
    assert "Findings by severity and status" in text
    assert "CVSS 6.5 Medium (3.1) · CWE-787 · GHSA-pv36-h7jh-qm62" in text
    assert "V2Vector" not in text and "V3Score" not in text
    assert "until " in text  # the accepted finding shows how long
