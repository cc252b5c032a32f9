"""The report-import page (/scans/import): analysts upload a report a tool already wrote and land
on the new scan; bad uploads come back as the form with the error next to the field."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.middleware import MULTIPART_FRAMING_BYTES
from accounts.models import Role, Team, User
from scans.imports.forms import ReportImportForm
from scans.imports.services import importable_tool_names
from scans.models import Finding, Scan
from tests.scans.tools.conftest import sample

pytestmark = pytest.mark.django_db

TRIVY_REPORT = "trivy/legacy_many_vulns.json"


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(settings: Any, tmp_path: Path) -> None:
    """Imported reports are kept as artifacts: in this test's folder, not the shared var/."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"


@pytest.fixture
def client_as(team: Team) -> Callable[[User], Client]:
    """A browser session of `user`, acting in `team`."""

    def factory(member: User) -> Client:
        client = Client()
        client.force_login(member)
        session = client.session
        session["team_id"] = team.pk
        session.save()
        return client

    return factory


@pytest.fixture
def analyst_client(
    team: Team, make_member: Callable[..., User], client_as: Callable[[User], Client]
) -> Client:
    return client_as(make_member(team, Role.ANALYST, "member@example.test"))


@pytest.fixture
def viewer_client(
    team: Team, make_member: Callable[..., User], client_as: Callable[[User], Client]
) -> Client:
    return client_as(make_member(team, Role.VIEWER, "viewer@example.test"))


def trivy_findings_in(report: bytes) -> int:
    """Findings a Trivy report holds, counted from the raw JSON: every vulnerability, every
    failed misconfiguration check, every secret."""
    document = json.loads(report)
    results = document if isinstance(document, list) else document.get("Results") or []
    return sum(
        len(result.get("Vulnerabilities") or [])
        + len([m for m in result.get("Misconfigurations") or [] if m.get("Status") == "FAIL"])
        + len(result.get("Secrets") or [])
        for result in results
    )


def upload(client: Client, data: bytes, *, tool: str = "trivy", **fields: Any) -> Any:
    report = SimpleUploadedFile("report.json", data, content_type="application/json")
    return client.post("/scans/import", {"tool": tool, "file": report, **fields})


def field_html(html: str, name: str) -> str:
    """The `.field` block of the form that holds the input named `name`."""
    for block in re.findall(r'<div class="field[^"]*">.*?</div>', html, flags=re.S):
        if f'name="{name}"' in block:
            return str(block)
    raise AssertionError(f"no field {name!r} in the page")


def test_the_page_renders_for_an_analyst_with_every_importable_tool(
    analyst_client: Client,
) -> None:
    page = analyst_client.get("/scans/import")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    for tool in importable_tool_names():
        assert f'<option value="{tool}"' in html
    text = re.sub(r"<[^>]+>", "", html)
    assert "trivy image --format json" in text and "nmap -sV -oX nmap.xml HOST" in text
    assert "At most 50.0\xa0MB in all" in field_html(html, "file")


def test_a_viewer_is_refused_the_page_and_sees_no_link_to_it(
    viewer_client: Client, analyst_client: Client
) -> None:
    assert viewer_client.get("/scans/import").status_code == 403
    refused = upload(viewer_client, sample(TRIVY_REPORT))
    assert refused.status_code == 403 and "analyst role" in refused.content.decode()
    assert Scan.objects.count() == 0

    assert 'href="/scans/import"' not in viewer_client.get("/scans/").content.decode()
    assert 'href="/scans/import"' in analyst_client.get("/scans/").content.decode()


def test_a_trivy_report_becomes_a_scan_with_its_findings(analyst_client: Client) -> None:
    report = sample(TRIVY_REPORT)
    expected = trivy_findings_in(report)
    assert expected > 50  # more than one page of findings on the scan page

    answer = upload(
        analyst_client, report, target="registry.example.com/app:1.4", workflow="nightly"
    )

    scan = Scan.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/scans/{scan.pk}/"
    assert scan.source == Scan.Source.IMPORT and scan.status == "completed"
    assert scan.workflow_name == "nightly"
    assert scan.target_snapshot == [{"kind": "import", "value": "registry.example.com/app:1.4"}]
    assert Finding.objects.filter(scan=scan).count() == expected == scan.findings_count
    detail = analyst_client.get(answer["Location"]).content.decode()
    assert (
        f"Imported {expected} findings from a trivy report: {expected} new, 0 still open, 0 fixed."
        in detail
    )


def test_the_same_report_imported_again_has_nothing_new(analyst_client: Client) -> None:
    report = sample(TRIVY_REPORT)
    expected = trivy_findings_in(report)
    upload(analyst_client, report)

    again = upload(analyst_client, report)

    assert again.status_code == 302
    detail = analyst_client.get(again["Location"]).content.decode()
    assert f"{expected} findings from a trivy report: 0 new, {expected} still open, 0 fixed" in (
        detail
    )
    assert Scan.objects.count() == 2


@pytest.mark.parametrize(
    ("data", "fields", "field", "error"),
    [
        (b'{"SchemaVersion": 2, "Results": [', {}, "file", "JSON that is cut off or damaged"),
        (b"<nmaprun></nmaprun>", {}, "file", "this looks like a Nmap XML (-oX) (tool=nmap)"),
        (b"{}", {"tool": "skipfish"}, "tool", "Select a valid choice. skipfish is not one of"),
        (
            b"",
            {},
            "file",
            "The file is empty, which is not what Trivy writes when it finds nothing",
        ),
        (b"  \n", {}, "file", "The file is empty"),
        (b"[]", {"target": "--output=/etc/passwd"}, "target", "cannot start with"),
    ],
    ids=["corrupt", "another-tools-report", "unknown-tool", "empty", "blank", "option-target"],
)
def test_a_bad_upload_comes_back_with_the_error_next_to_its_field(
    analyst_client: Client, data: bytes, fields: dict[str, str], field: str, error: str
) -> None:
    answer = upload(analyst_client, data, **fields)

    assert answer.status_code == 400
    html = answer.content.decode()
    assert error in field_html(html, field)
    if field != "file":  # a browser does not keep the chosen file when the form comes back
        assert "Choose the file again" in field_html(html, "file")
    assert Scan.objects.count() == 0


def test_a_post_without_a_file_asks_for_one(analyst_client: Client) -> None:
    answer = analyst_client.post("/scans/import", {"tool": "trivy"})

    assert answer.status_code == 400
    assert "This field is required." in field_html(answer.content.decode(), "file")


def test_an_upload_over_the_limit_is_refused_naming_the_limit(
    analyst_client: Client, settings: Any
) -> None:
    settings.IMPORT_MAX_BYTES = 4096
    # Trailing blanks keep it a valid report; the body is over the limit plus the framing slack.
    report = sample("trivy/scheme_2_many_vulns.json") + b" " * (MULTIPART_FRAMING_BYTES + 4096)

    # The body's Content-Length is over the limit: refused before anything reads the upload.
    answer = upload(analyst_client, report)

    assert answer.status_code == 413
    html = answer.content.decode()
    assert "the limit is 4.0\xa0KB." in html and 'href="/scans/import"' in html
    assert Scan.objects.count() == 0


def test_a_report_of_exactly_the_limit_gets_through_the_multipart_framing(
    analyst_client: Client, settings: Any
) -> None:
    report = sample("trivy/scheme_2_many_vulns.json")
    settings.IMPORT_MAX_BYTES = len(report)

    answer = upload(analyst_client, report)

    assert answer.status_code == 302
    assert Scan.objects.count() == 1


def test_the_form_refuses_a_file_over_the_limit_by_its_size(settings: Any) -> None:
    # Uploads without a Content-Length get past the middleware; the form checks the size the
    # upload handler counted before the view reads the file.
    settings.IMPORT_MAX_BYTES = 4096
    big = SimpleUploadedFile("big.json", b"[" + b" " * 4096 + b"]")

    form = ReportImportForm({"tool": "trivy"}, {"file": big})

    assert not form.is_valid()
    assert form.errors["file"] == ["Report too large: 4,098 bytes; the limit is 4,096 bytes."]
