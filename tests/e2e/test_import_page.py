"""The report-import page in a real browser: the empty form, a corrupt upload (the error next to
the file field), a real Trivy report that lands on the new scan, the form while an import is
under way (it cannot be sent twice), and an upload over the size limit; at 1280 and 390 px, with no console or CSP error and nothing wider than the screen.
Full-page screenshots go to var/screenshots/; the form, the error and the result's first screen
are also kept in var/screenshots/ (copied to docs/screenshots/ for the README)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from scans.models import Finding, Scan
from tests.e2e.conftest import screenshot_dir
from tests.scanning import SCANNER_OUTPUTS
from tests.scans.tools.conftest import sample

pytestmark = [pytest.mark.e2e]

TRIVY_REPORT = "trivy/legacy_many_vulns.json"


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"


def _keep(page: Any, name: str, *, full_page: bool = True) -> None:
    """The PNGs the README's import section can show, at 1280 and 390 px, in var/screenshots/
    (docs/screenshots/ is refreshed from there by hand, so a test run leaves the tree clean).
    The result page is a long findings table: only its first screen is kept there."""
    folder = screenshot_dir()
    original = page.viewport_size
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(50)
        path = folder / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=full_page, caret="initial")
    page.set_viewport_size(original)


def _vulnerabilities_in(report: bytes) -> int:
    results = json.loads(report)
    results = results if isinstance(results, list) else results.get("Results") or []
    return sum(len(result.get("Vulnerabilities") or []) for result in results)


def test_importing_a_trivy_report_from_the_page(
    page: Any,
    live_server: Any,
    page_errors: list[str],
    login_as: Callable[[User], None],
    screenshot: Callable[..., Any],
    user: User,
) -> None:
    expected = _vulnerabilities_in(sample(TRIVY_REPORT))
    refused: list[tuple[int, str, str]] = []
    page.on(
        "response",
        lambda r: (
            refused.append((r.status, r.url, r.request.resource_type)) if r.status >= 400 else None
        ),
    )
    login_as(user)
    page.goto("/scans/")
    assert screenshot(page, "scan-list-actions").overflow_px == {1280: 0, 390: 0}
    page.click("text=Import a report")
    page.wait_for_url("**/scans/import")
    assert "trivy image --format json" in (page.text_content(".tool-hints") or "")
    shots = screenshot(page, "scan-import")
    assert shots.overflow_px == {1280: 0, 390: 0}
    _keep(page, "scan-import")

    page.select_option("#id_tool", "trivy")
    page.set_input_files(
        "#id_file",
        files=[{"name": "trivy.json", "mimeType": "application/json", "buffer": b'{"Results": ['}],
    )
    page.click("button[type=submit]")
    error = page.locator(".field.has-error:has(#id_file) .error")
    assert "Not a Trivy report" in error.inner_text()
    assert "cut off or damaged" in error.inner_text()
    assert Scan.objects.count() == 0
    shots = screenshot(page, "scan-import-error")
    assert shots.overflow_px == {1280: 0, 390: 0}
    _keep(page, "scan-import-error")

    assert page.input_value("#id_tool") == "trivy"  # the choice survives the error
    page.set_input_files("#id_file", str(SCANNER_OUTPUTS / TRIVY_REPORT))
    page.fill("#id_target", "registry.example.com/app:1.4")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/scans/\d+/$"))

    scan = Scan.objects.get()
    assert page.url.endswith(f"/scans/{scan.pk}/")
    assert Finding.objects.filter(scan=scan).count() == expected
    message = page.inner_text(".messages")
    assert f"Imported {expected} findings from a trivy report: {expected} new" in message
    assert page.inner_text("table.steps td[data-label=Findings]") == str(expected)
    page.wait_for_selector("#diff >> text=new")  # the comparison panel has loaded
    shots = screenshot(page, "scan-import-result")
    assert shots.overflow_px == {1280: 0, 390: 0}
    _keep(page, "scan-import-result", full_page=False)
    # The form with an error is answered 400, which Chromium logs (without the URL) as a failed
    # resource: that one document, and nothing else, may have failed.
    assert refused == [(400, f"{live_server.url}/scans/import", "document")]
    assert page_errors == [
        "console: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]


def test_an_upload_over_the_limit_gets_a_page_naming_the_limit(
    page: Any,
    page_errors: list[str],
    login_as: Callable[[User], None],
    screenshot: Callable[..., Any],
    user: User,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.IMPORT_MAX_BYTES = 512
    login_as(user)
    page.goto("/scans/import")
    assert "At most 512" in page.inner_text(".field:has(#id_file) .help")
    page.select_option("#id_tool", "trivy")
    # Past the limit by more than the multipart framing the middleware allows for (16 KiB).
    big = tmp_path / "trivy-big.json"
    big.write_bytes(
        (SCANNER_OUTPUTS / "trivy/scheme_2_many_vulns.json").read_bytes() + b" " * 40_000
    )
    page.set_input_files("#id_file", str(big))
    page.click("button[type=submit]")

    page.wait_for_selector("text=the limit is 512")
    assert "413" in page.inner_text("h1")
    screenshot(page, "scan-import-too-large")
    page.click("text=Try again")
    page.wait_for_url("**/scans/import")
    assert Scan.objects.count() == 0
    # The 413 document itself is what Chromium reports as a failed resource; nothing else may.
    assert [e for e in page_errors if "413" not in e] == []


def test_a_sent_form_shows_the_import_in_progress_and_cannot_be_sent_twice(
    page: Any,
    page_errors: list[str],
    login_as: Callable[[User], None],
    screenshot: Callable[..., Any],
    user: User,
) -> None:
    """The page's own submit handler runs; a listener the test adds after it keeps the first
    submission from leaving (as a long upload would keep the page waiting) so that the page can be
    looked at, then the form is sent for real."""
    login_as(user)
    page.goto("/scans/import")
    assert page.locator(".import-progress").is_hidden()
    page.select_option("#id_tool", "trivy")
    page.set_input_files("#id_file", str(SCANNER_OUTPUTS / TRIVY_REPORT))
    page.evaluate(
        """() => {
            window.submits = [];
            document.querySelector("form.report-import").addEventListener("submit", (event) => {
                window.submits.push(event.defaultPrevented);
                event.preventDefault();
            });
        }"""
    )
    page.click("button[type=submit]")
    status = page.locator(".import-progress")
    assert status.is_visible()
    size_kb = round((SCANNER_OUTPUTS / TRIVY_REPORT).stat().st_size / 1024)
    assert f"Uploading and importing legacy_many_vulns.json ({size_kb} KB)" in status.inner_text()
    assert page.is_disabled("button[type=submit]")
    assert page.get_attribute("form.report-import", "aria-busy") == "true"
    # A second try while the first is under way (Enter in a field submits the form even with the
    # button disabled) is stopped by the page: the event arrives already prevented.
    page.evaluate("() => document.querySelector('form.report-import').requestSubmit()")
    assert page.evaluate("() => window.submits") == [False, True]
    shots = screenshot(page, "scan-import-busy")
    assert shots.overflow_px == {1280: 0, 390: 0}

    page.evaluate("() => document.querySelector('form.report-import').submit()")
    page.wait_for_url(re.compile(r"/scans/\d+/$"))
    assert Scan.objects.count() == 1
    page.go_back()
    page.wait_for_url("**/scans/import")
    assert page.locator(".import-progress").is_hidden()
    assert not page.is_disabled("button[type=submit]")
    assert page_errors == []


def test_the_page_says_what_each_file_is_before_importing_them_as_one_scan(
    page: Any,
    page_errors: list[str],
    login_as: Callable[[User], None],
    screenshot: Callable[..., Any],
    user: User,
) -> None:
    login_as(user)
    page.goto("/scans/import")
    assert page.input_value("#id_tool") == ""  # detected from the file unless chosen

    page.set_input_files(
        "#id_file",
        [
            str(SCANNER_OUTPUTS / "zap/zap-xml-plus-format.xml"),
            str(SCANNER_OUTPUTS / "gitleaks/gitleaks8_many.json"),
            str(SCANNER_OUTPUTS / "nuclei/invalid_cwe.json"),
        ],
    )
    found = page.locator(".import-identified")
    found.locator("li").nth(2).wait_for()
    text = found.inner_text()
    assert "zap-xml-plus-format.xml" in text and "ZAP XML report" in text and "tool=zap" in text
    assert "Gitleaks JSON" in text and "tool=gitleaks" in text and "tool=nuclei" in text
    assert found.locator("li.is-refused").count() == 0
    shots = screenshot(page, "scan-import-detected")
    assert shots.overflow_px == {1280: 0, 390: 0}
    _keep(page, "scan-import-detected")

    # Choosing a tool the files are not of says so for each, before anything is imported.
    page.select_option("#id_tool", "trivy")
    page.locator(".import-identified li.is-refused").nth(2).wait_for()
    assert "choose tool=zap" in found.inner_text()
    page.select_option("#id_tool", "")
    page.locator(".import-identified li.is-found").nth(2).wait_for()

    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/scans/\d+/$"))
    scan = Scan.objects.get()
    assert scan.steps.count() == 3
    assert set(Finding.objects.filter(scan=scan).values_list("tool", flat=True)) == {
        "zap",
        "gitleaks",
        "nuclei",
    }
    assert "from a gitleaks+nuclei+zap report" in page.inner_text(".messages")
    assert page_errors == []
