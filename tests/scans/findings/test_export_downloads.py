"""Every export button of the scan page (Text, JSON, CSV, SARIF) downloads a named file
(Content-Disposition: attachment) whose findings are the API's findings of that scan, with the
structured fields; the session of the page is enough (no API key)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from scans.tools import grype, trivy
from tests.scanning import SCANNER_OUTPUTS

pytestmark = pytest.mark.django_db


def test_every_export_button_downloads_the_scans_findings(
    make_scan: Callable[..., Any], client: Any, user: Any, owner_api: Any
) -> None:
    findings = trivy.parse(
        (SCANNER_OUTPUTS / "trivy/scheme_2_many_vulns.json").read_bytes()
    ).findings
    findings += grype.parse((SCANNER_OUTPUTS / "grype/check_all_fields.json").read_bytes()).findings
    findings += trivy.parse(
        (SCANNER_OUTPUTS / "trivy/legacy_many_vulns.json").read_bytes()
    ).findings[:120]
    scan = make_scan(findings)
    api_rows = owner_api.get(f"/api/v1/findings?scan={scan.pk}&page_size=500").json()["results"]
    expected = {row["id"]: row for row in api_rows}
    assert len(expected) == scan.findings.count() > 100

    client.force_login(user)
    page = client.get(f"/scans/{scan.pk}/").content.decode()
    buttons = dict(
        (label, href.replace("&amp;", "&"))
        for href, label in re.findall(
            r'<a class="button secondary" href="([^"]+)" download>(\w+)</a>', page
        )
    )
    assert set(buttons) == {"Text", "JSON", "CSV", "SARIF"}, buttons
    got: dict[str, Any] = {}
    for label, href in buttons.items():
        response = client.get(href)
        assert response.status_code == 200, (label, response.content[:200])
        disposition = response["Content-Disposition"]
        assert disposition.startswith('attachment; filename="outpost-scan-'), (label, disposition)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        got[label] = body.decode()

    results = json.loads(got["JSON"])["results"]
    assert {r["id"] for r in results} == set(expected)
    for row in results:
        api = expected[row["id"]]
        for field in (
            "status",
            "cvss_v3_vector",
            "cvss_score",
            "cwe_ids",
            "vuln_ids",
            "has_fix",
            "due_at",
        ):
            assert row[field] == api[field], (field, row["id"])

    rows = list(csv.DictReader(io.StringIO(got["CSV"])))
    assert {int(r["id"]) for r in rows} == set(expected)
    for row in rows:
        api = expected[int(row["id"])]
        assert row["cvss_v3_vector"] == api["cvss_v3_vector"]
        assert row["cwe_ids"] == " ".join(api["cwe_ids"]) and row["vuln_ids"] == " ".join(
            api["vuln_ids"]
        )
        assert row["has_fix"] == ("true" if api["has_fix"] else "false")

    sarif = json.loads(got["SARIF"])
    results = [r for run in sarif["runs"] for r in run["results"]]
    assert {r["properties"]["outpostFindingId"] for r in results} == set(expected)
    for result in results:
        api = expected[result["properties"]["outpostFindingId"]]
        if api["cwe_ids"]:
            assert result["properties"]["cwe"] == api["cwe_ids"]
        if api["cvss_v3_vector"]:
            assert result["properties"]["cvssV3"]["vector"] == api["cvss_v3_vector"]

    text = got["Text"]
    for api in expected.values():
        assert api["rule_id"][:50] in text
