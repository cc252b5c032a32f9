"""The PDF report shows the scan's screenshots: a real scan renders a local page in Debian's
Chromium on a real worker, the worker renders the PDF, and poppler finds the thumbnail
(`pdfimages -list`) and the URL under it (`pdftotext`); the page is drawn to
var/screenshots/report-screenshots.png to be looked at. Bounded: the first few by URL, then
"and N more"; a file that is not one of the scan's own artifacts is never embedded."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from PIL import Image

from scans.findings.storage import artifact_record
from scans.models import Artifact, Scan, ScanStep
from scans.reports.pdf import offline_url_fetcher, report_html
from scans.reports.screenshots import SCREENSHOT_LIMIT, report_screenshots
from tests.conftest import service_unavailable
from tests.recon_app import ReconApp
from tests.scanning import wait_scan_done
from tests.workers import wait_for
from workflows.services import workflow_create

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} (poppler-utils) is required")
    return found


def pdf_text(pdf: Path) -> str:
    out = subprocess.run([poppler("pdftotext"), str(pdf), "-"], capture_output=True, check=True)
    return out.stdout.decode()


def pdf_images(pdf: Path) -> list[list[str]]:
    """`pdfimages -list` rows: page, num, type, width, height, color, comp, bpc, enc, …"""
    out = subprocess.run(
        [poppler("pdfimages"), "-list", str(pdf)], capture_output=True, check=True, text=True
    )
    return [line.split() for line in out.stdout.splitlines()[2:] if line.strip()]


def test_a_scans_screenshot_is_in_its_pdf_report_with_the_url_under_it(
    user: Any, team: Any, authorize: Callable[..., Any], worker: Any, owner_api: Any,
    recon_app: ReconApp, tmp_path: Path,
) -> None:  # fmt: skip
    if shutil.which("chromium") is None:
        service_unavailable("chromium", "Debian's chromium is not installed")
    target = authorize(recon_app.url)
    graph = {
        "nodes": [
            {"id": "probe", "type": "http_probe", "config": {"schemes": "http"}, "x": 80, "y": 80},
            {"id": "shot", "type": "screenshot", "config": {}, "x": 300, "y": 80},
        ],
        "edges": [{"from": "probe", "to": "shot"}],
    }
    workflow = workflow_create(team=team, user=user, name="screenshots", graph=graph)
    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": True},
        format="json",
    )
    scan = wait_scan_done(answer.json()["id"], timeout_s=120)
    assert scan.status == "completed", [(s.node_id, s.error) for s in scan.steps.all()]
    assert Artifact.objects.filter(scan=scan, name__endswith=".png").count() == 1

    location = f"/api/v1/scans/{scan.pk}/report.pdf"
    assert owner_api.get(location).status_code == 202

    def ready() -> Any:
        response = owner_api.get(location)
        return response if response.status_code == 200 else None

    response = wait_for(ready, timeout_s=300, interval_s=1, what="the PDF report")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"".join(response.streaming_content))

    text = pdf_text(pdf)
    assert "Screenshots" in text and "1 screenshot," in " ".join(text.split())
    assert recon_app.url in text
    pages = [page for page in text.split("\f") if recon_app.url in page and "Screenshots" in page]
    assert len(pages) == 1
    page_number = text.split("\f").index(pages[0]) + 1
    [image] = [row for row in pdf_images(pdf) if row[0] == str(page_number)]
    assert image[2] == "image" and image[8] == "jpeg"
    assert (int(image[3]), int(image[4])) == (480, 300)  # 1280x800, scaled to the thumbnail

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [poppler("pdftoppm"), "-png", "-r", "80", "-f", str(page_number), "-l",
         str(page_number), "-singlefile", str(pdf), str(SCREENSHOTS / "report-screenshots")],
        check=True, timeout=120,
    )  # fmt: skip
    drawn = Image.open(SCREENSHOTS / "report-screenshots.png")
    # The thumbnail is drawn: the page is not blank paper and text where the image sits.
    assert len(drawn.convert("L").getcolors(256) or []) > 64


def _png(path: Path, shade: int) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (1280, 800), (shade, 120, 200 - shade)).save(buffer, "PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def _screenshot_step(scan: Scan, shots: list[tuple[str, int]]) -> None:
    ScanStep.objects.create(
        scan=scan, node_id="shot", node_type="screenshot", status="completed", position=1,
        output_items=[
            {"kind": "url", "value": url, "attrs": {"screenshot": {"artifact": artifact}}}
            for url, artifact in shots
        ],
    )  # fmt: skip


def test_the_report_shows_the_first_screenshots_and_counts_the_rest(
    make_scan: Callable[..., Scan], tmp_path: Path
) -> None:
    scan = make_scan(2)
    folder = Path(settings.ARTIFACTS_DIR) / f"scan-{scan.pk}" / "shot"
    shots = []
    for n in range(SCREENSHOT_LIMIT + 30):
        artifact = artifact_record(scan=scan, step=None, path=_png(folder / f"s{n}.png", n))
        assert artifact is not None
        shots.append((f"http://127.0.0.1:8080/page/{n:03d}", artifact.pk))
    _screenshot_step(scan, shots)

    found = report_screenshots(scan)

    assert [s.url for s in found.shots] == [url for url, _ in shots[:SCREENSHOT_LIMIT]]
    assert all(s.image.startswith("data:image/jpeg;base64,") for s in found.shots)
    assert found.more == 30
    pdf = tmp_path / "report.pdf"
    from weasyprint import HTML

    HTML(string=report_html(scan), url_fetcher=offline_url_fetcher()).write_pdf(pdf)
    text = " ".join(pdf_text(pdf).split())
    assert f"{SCREENSHOT_LIMIT + 30} screenshots, the first {SCREENSHOT_LIMIT} by URL" in text
    assert "… and 30 more" in text and "page/011" in text and "page/012" not in text
    assert len([row for row in pdf_images(pdf) if row[8] == "jpeg"]) == SCREENSHOT_LIMIT


def test_a_file_that_is_not_the_scans_own_artifact_is_never_embedded(
    make_scan: Callable[..., Scan],
) -> None:
    other = make_scan(1)
    scan = make_scan(1)
    theirs = artifact_record(
        scan=other, step=None, path=_png(Path(settings.ARTIFACTS_DIR) / "other" / "s.png", 9)
    )
    ours = artifact_record(
        scan=scan, step=None, path=_png(Path(settings.ARTIFACTS_DIR) / "ours" / "s.png", 1)
    )
    assert theirs is not None and ours is not None
    changed = artifact_record(
        scan=scan, step=None, path=_png(Path(settings.ARTIFACTS_DIR) / "ours" / "t.png", 2)
    )
    assert changed is not None
    _png(Path(settings.ARTIFACTS_DIR) / changed.path, 3)  # rewritten after it was kept
    _screenshot_step(
        scan,
        [("http://127.0.0.1/a", theirs.pk), ("http://127.0.0.1/b", ours.pk),
         ("http://127.0.0.1/c", changed.pk), ("http://127.0.0.1/d", 10**9)],
    )  # fmt: skip

    found = {s.url: s for s in report_screenshots(scan).shots}

    assert found["http://127.0.0.1/a"].image == ""
    assert found["http://127.0.0.1/a"].note == "not among this scan's files"
    assert found["http://127.0.0.1/b"].image.startswith("data:image/jpeg")
    assert found["http://127.0.0.1/c"].image == ""
    assert found["http://127.0.0.1/c"].note == "file changed since the scan kept it"
    assert found["http://127.0.0.1/d"].note == "not among this scan's files"
