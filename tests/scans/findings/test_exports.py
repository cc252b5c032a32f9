"""A scan's findings as JSON, table, CSV and SARIF list the same findings; SARIF validates against
the SARIF 2.1.0 schema (tests/data/sarif-schema-2.1.0.json) with rules and locations filled."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from scans.engine.runtime import FindingData
from scans.models import Finding
from tests.scans.findings.factories import realistic_findings

pytestmark = pytest.mark.django_db
SCHEMA = json.loads((Path(__file__).parents[2] / "data" / "sarif-schema-2.1.0.json").read_text())


def _json_findings(api: Any, scan_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    url: str | None = f"/api/v1/scans/{scan_id}/findings?page_size=500"
    while url:
        body = api.get(url).json()
        rows.extend(body["results"])
        url = body["next"]
    return rows


def test_csv_and_table_list_the_same_findings_as_json(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    scan = make_scan(120)
    as_json = _json_findings(owner_api, scan.pk)
    assert len(as_json) == 120

    response = owner_api.get(f"/api/v1/scans/{scan.pk}?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(int(r["id"]) for r in rows) == sorted(r["id"] for r in as_json)
    assert {r["fingerprint"] for r in rows} == {r["fingerprint"] for r in as_json}

    table = owner_api.get(f"/api/v1/scans/{scan.pk}?format=table").content.decode()
    body = table.split("SEVERITY  TOOL", 1)[1].splitlines()[2:]
    assert len([line for line in body if line.strip()]) == 120
    listed = sorted((line.split()[0], line.split()[1]) for line in body if line.strip())
    assert listed == sorted((r["severity"], r["tool"]) for r in as_json)


def test_csv_neutralises_spreadsheet_formulas(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    evil = FindingData(
        tool="nuclei",
        severity="high",
        title='=HYPERLINK("http://x","y")',
        rule_id="t",
        location="https://a/",
    )
    scan = make_scan([evil])
    text = b"".join(owner_api.get(f"/api/v1/scans/{scan.pk}?format=csv").streaming_content).decode()
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["title"].startswith("'=")


@pytest.mark.smoke
def test_sarif_validates_against_the_2_1_0_schema_with_rules_and_locations(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    scan = make_scan(200)
    finding = Finding.objects.filter(scan=scan).order_by("pk")[0]
    owner_api.post(
        f"/api/v1/findings/{finding.pk}/triage", {"status": "false_positive"}, format="json"
    )
    response = owner_api.get(f"/api/v1/scans/{scan.pk}?format=sarif")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/sarif+json")
    log = response.json()
    jsonschema.Draft202012Validator(SCHEMA).validate(log)

    results = [r for run in log["runs"] for r in run["results"]]
    assert len(results) == 200
    assert {r["partialFingerprints"]["outpostFingerprint/v1"] for r in results} == set(
        scan.findings.values_list("fingerprint", flat=True)
    )
    for run in log["runs"]:
        rules = run["tool"]["driver"]["rules"]
        assert len({r["id"] for r in rules}) == len(rules)
        assert run["automationDetails"]["id"].startswith("outpost/")
        for result in run["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            assert float(rules[result["ruleIndex"]]["properties"]["security-severity"]) >= 0
            physical = result["locations"][0]["physicalLocation"]
            assert physical["region"]["startLine"] >= 1
            assert urlsplit(physical["artifactLocation"]["uri"]).scheme in ("", "http", "https")
    suppressed = [r for r in results if r.get("suppressions")]
    assert [r["partialFingerprints"]["outpostFingerprint/v1"] for r in suppressed] == [
        finding.fingerprint
    ]
    # A file:line location keeps its line.
    secret = next(
        r
        for r in results
        if r["ruleId"] in ("aws-access-token", "github-pat", "generic-api-key", "slack-webhook-url")
    )
    assert secret["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith(
        "src/config/"
    )


def test_the_schema_rejects_a_broken_log() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(
            {"version": "2.1.0", "runs": [{"results": []}]}
        )


def test_an_empty_scan_is_still_a_valid_sarif_log(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    scan = make_scan([])
    log = owner_api.get(f"/api/v1/scans/{scan.pk}?format=sarif").json()
    jsonschema.Draft202012Validator(SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []


def test_an_unknown_format_is_400(make_scan: Callable[..., Any], owner_api: Any) -> None:
    scan = make_scan(realistic_findings(1))
    response = owner_api.get(f"/api/v1/scans/{scan.pk}?format=xlsx")
    assert response.status_code == 400
