"""The CLI's own SARIF writer (for servers without `?format=sarif`): valid SARIF 2.1.0 for every
kind of location Outpost findings have."""

from __future__ import annotations

import pytest

from outpost_cli.sarif import sarif_from_findings
from tests.cli.conftest import assert_valid_sarif


def finding(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "tool": "trivy", "severity": "high", "title": "A problem", "description": "", "rule_id": "",
        "component": "", "version": "", "fixed_version": "", "location": "", "fingerprint": "f" * 64,
        "status": "open", "references": [], "tags": [],
    }  # fmt: skip
    return {**base, **fields}


@pytest.mark.smoke
def test_each_kind_of_location_becomes_a_valid_sarif_location() -> None:
    findings = [
        finding(tool="gitleaks", rule_id="aws-access-token", location="config/deploy.env:12", severity="critical"),
        finding(tool="nuclei", rule_id="tech-detect", location="http://127.0.0.1:8080/login", severity="info"),
        finding(tool="nmap", title="Telnet open", location="127.0.0.1:23/tcp", severity="medium"),
        finding(rule_id="CVE-2023-1234", component="openssl", version="3.0.1", fixed_version="3.0.9",
                location="nginx:1.25 (debian 12.5)", references=["https://nvd.nist.gov/vuln/detail/CVE-2023-1234"]),
        finding(rule_id="CVE-2023-1234", severity="critical", status="accepted"),
        finding(title="No location at all", severity="low"),
    ]  # fmt: skip
    log = sarif_from_findings(findings, scan={"id": 7})
    assert_valid_sarif(log)
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    assert set(runs) == {"gitleaks", "nuclei", "nmap", "trivy"}
    secret = runs["gitleaks"]["results"][0]
    assert secret["level"] == "error"
    assert secret["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "config/deploy.env"}, "region": {"startLine": 12}
    }  # fmt: skip
    url = runs["nuclei"]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert url == {"uri": "http://127.0.0.1:8080/login"}
    service = runs["nmap"]["results"][0]["locations"][0]
    assert service == {
        "logicalLocations": [{"fullyQualifiedName": "127.0.0.1:23/tcp", "kind": "resource"}]
    }
    trivy = runs["trivy"]
    # one rule per rule id, at the worst severity its results have; accepted ones are suppressed
    cve_rules = [r for r in trivy["tool"]["driver"]["rules"] if r["id"] == "CVE-2023-1234"]
    assert len(cve_rules) == 1 and cve_rules[0]["properties"]["security-severity"] == "9.5"
    assert cve_rules[0]["helpUri"] == "https://nvd.nist.gov/vuln/detail/CVE-2023-1234"
    assert "openssl 3.0.1 (fixed in 3.0.9)" in trivy["results"][0]["message"]["text"]
    assert trivy["results"][1]["suppressions"][0]["status"] == "accepted"
    assert "locations" not in trivy["results"][2]
    assert all(run["automationDetails"]["id"] == "outpost/scan/7/" for run in log["runs"])


@pytest.mark.smoke
def test_no_findings_is_still_a_valid_log_naming_its_producer() -> None:
    log = sarif_from_findings([])
    assert_valid_sarif(log)
    assert log["runs"][0]["results"] == []
