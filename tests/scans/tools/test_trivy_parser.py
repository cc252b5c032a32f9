"""Trivy reports (legacy list, SchemaVersion 2, misconfigurations + secrets) parse into findings
whose counts and severities match what the raw files say."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from scans.tools import trivy
from tests.scans.tools.conftest import sample

# Trivy's words → ours, written here independently of the parser.
EXPECTED_SEVERITY = {
    "CRITICAL": "critical",
    "HIGH": "high",
    "MEDIUM": "medium",
    "LOW": "low",
    "UNKNOWN": "info",
}
SAMPLES = [
    "trivy/legacy_many_vulns.json",
    "trivy/scheme_2_many_vulns.json",
    "trivy/scheme_2_no_vuln.json",
    "trivy/misconfigurations_and_secrets.json",
]


def raw_entries(document: Any) -> list[dict[str, Any]]:
    results = document if isinstance(document, list) else (document.get("Results") or [])
    entries: list[dict[str, Any]] = []
    for result in results:
        entries += result.get("Vulnerabilities") or []
        entries += [m for m in result.get("Misconfigurations") or [] if m.get("Status") == "FAIL"]
        entries += result.get("Secrets") or []
    return entries


@pytest.mark.smoke
@pytest.mark.parametrize("name", SAMPLES)
def test_it_reads_every_finding_of_the_sample_with_its_severity(name: str) -> None:
    data = sample(name)
    expected = Counter(EXPECTED_SEVERITY[e["Severity"]] for e in raw_entries(json.loads(data)))

    parsed = trivy.parse(data)

    assert len(parsed.findings) == sum(expected.values())
    assert Counter(f.severity for f in parsed.findings) == expected
    assert all(f.tool == "trivy" for f in parsed.findings)


def test_the_legacy_report_has_ninety_three_findings_of_which_one_unknown_is_info() -> None:
    parsed = trivy.parse(sample("trivy/legacy_many_vulns.json"))

    assert len(parsed.findings) == 93
    unknown = [f for f in parsed.findings if f.severity == "info"]
    assert len(unknown) == 1
    apt = next(f for f in parsed.findings if f.rule_id == "CVE-2011-3374")
    assert (apt.component, apt.version, apt.fixed_version) == ("apt", "1.8.2.2", "")
    # OS packages sit at the image (here, with no artifact name, the OS) without its point release
    assert apt.location == "debian"


def test_schema_2_fields_map_to_component_version_fix_and_location() -> None:
    parsed = trivy.parse(sample("trivy/scheme_2_many_vulns.json"), subject="teamdojo:latest")

    jar = next(f for f in parsed.findings if f.rule_id == "CVE-2018-11771")
    assert jar.component == "org.apache.commons:commons-compress"
    assert (jar.version, jar.fixed_version) == ("1.14", "1.18")
    assert jar.location == "teamdojo:latest:app/libs/commons-compress-1.14"
    assert jar.severity == "medium"
    assert jar.remediation == "Upgrade org.apache.commons:commons-compress to 1.18 or later."
    assert "https://avd.aquasec.com/nvd/cve-2018-11771" in jar.references
    os_package = next(f for f in parsed.findings if f.component == "libbz2")
    assert os_package.location == "teamdojo:latest"
    assert os_package.item == "teamdojo:latest"


def test_misconfigurations_and_secrets_are_findings_with_file_locations() -> None:
    parsed = trivy.parse(sample("trivy/misconfigurations_and_secrets.json"))

    misconfig = next(f for f in parsed.findings if f.rule_id == "DS002")
    assert misconfig.severity == "high"
    assert misconfig.location == "Dockerfile"
    assert "USER" in misconfig.remediation
    secrets = [f for f in parsed.findings if f.rule_id == "github-pat"]
    assert sorted(f.location for f in secrets) == ["Dockerfile:24", "secret.txt:1"]
    assert all(f.severity == "critical" for f in secrets)
    assert {f.evidence["match"] for f in secrets} == {"ENV GITHUB_PAT=*****", "GITHUB_PAT=*****"}


def test_fingerprints_are_the_same_for_the_same_report_and_differ_between_findings() -> None:
    data = sample("trivy/legacy_many_vulns.json")

    first = [f.fingerprint for f in trivy.parse(data).findings]
    second = [f.fingerprint for f in trivy.parse(data).findings]

    assert first == second
    assert len(set(first)) == len(first)


@pytest.mark.parametrize("data", [b"", b"{", b'{"foo": 1}', b'"text"'])
def test_it_refuses_what_is_not_a_trivy_report(data: bytes) -> None:
    with pytest.raises(ValueError):
        trivy.parse(data)
