"""Saying what files are before importing them: the page's fragment (asked when the files or the
tool change) and `POST /api/v1/scans/import/detect`, both through `reports_identify`; and the
page importing several files as one scan."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Role, Team
from scans.models import Scan
from tests.scans.tools.conftest import sample

pytestmark = [pytest.mark.django_db]


def files(*names: str) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name.rsplit("/", 1)[-1], sample(name)) for name in names]


def test_the_api_names_each_files_tool_and_format_without_importing(owner_api: Any) -> None:
    answer = owner_api.post(
        "/api/v1/scans/import/detect",
        {
            "file": [
                *files("burp/one_finding_with_cwe.xml", "trivy/kubernetes_fabricated_subset.json"),
                SimpleUploadedFile("x.json", b"{"),
            ]
        },
        format="multipart",
    )

    assert answer.status_code == 200, answer.content
    [burp, k8s, broken] = answer.json()
    assert (burp["tool"], burp["format"], burp["error"]) == ("burp", "burp-xml", "")
    assert (k8s["tool"], k8s["format"]) == ("trivy", "trivy-k8s")
    assert broken["tool"] == "" and "cut off or damaged" in broken["error"]
    assert Scan.objects.count() == 0


def test_with_a_tool_the_api_says_which_files_are_not_that_tools(owner_api: Any) -> None:
    answer = owner_api.post(
        "/api/v1/scans/import/detect",
        {"file": files("nuclei/empty.jsonl", "gitleaks/gitleaks8_many.json"), "tool": "nuclei"},
        format="multipart",
    )

    [empty, other] = answer.json()
    assert empty["is_empty"] is True and empty["tool"] == "nuclei"
    assert "choose tool=gitleaks" in other["error"]


def test_a_viewer_cannot_ask(team: Team, make_member: Any, issue_key: Any, api: Any) -> None:
    viewer = make_member(team, Role.VIEWER, "viewer@example.test")
    answer = api(issue_key(viewer, team).raw_key).post(
        "/api/v1/scans/import/detect",
        {"file": files("nuclei/invalid_cwe.json")},
        format="multipart",
    )
    assert answer.status_code == 403


def test_the_page_fragment_lists_what_each_file_is(client: Client, user: Any) -> None:
    client.force_login(user)

    answer = client.post(
        "/scans/import/identify",
        {"file": files("openvas/one_vuln.xml", "semgrep/one_finding.json")},
        HTTP_HX_REQUEST="true",
    )

    assert answer.status_code == 200
    html = answer.content.decode()
    assert "OpenVAS / GVM XML report" in html and "tool=openvas" in html
    assert "Semgrep JSON" in html and "is-refused" not in html


def test_the_page_imports_several_files_as_one_scan(
    client: Client, user: Any, settings: Any, tmp_path: Any
) -> None:
    settings.ARTIFACTS_DIR = tmp_path
    client.force_login(user)

    answer = client.post(
        "/scans/import",
        {"file": files("nmap/nmap_multiple_port.xml", "sslscan/sslscan_one_vuln.xml")},
    )

    assert answer.status_code == 302, answer.content.decode()[:2000]
    scan = Scan.objects.get()
    assert sorted(scan.steps.values_list("node_type", flat=True)) == ["nmap", "sslscan"]
    assert scan.workflow_name == "import: nmap+sslscan"
