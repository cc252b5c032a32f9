"""grype match documents (0.7-era and newer) parse into findings matching the raw files."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from scans.tools import grype
from tests.scans.tools.conftest import sample

EXPECTED_SEVERITY = {
    "Critical": "critical",
    "High": "high",
    "Medium": "medium",
    "Low": "low",
    "Negligible": "info",
    "Unknown": "info",
}
SAMPLES = ["grype/check_all_fields.json", "grype/many_vulns4.json", "grype/no_vuln.json"]


@pytest.mark.smoke
@pytest.mark.parametrize("name", SAMPLES)
def test_it_reads_one_finding_per_distinct_match_with_its_severity(name: str) -> None:
    data = sample(name)
    distinct: dict[tuple[str, str, str], str] = {}
    for match in json.loads(data)["matches"]:
        key = (
            match["vulnerability"]["id"],
            match["artifact"]["name"],
            match["artifact"]["locations"][0]["path"],
        )
        distinct.setdefault(key, EXPECTED_SEVERITY[match["vulnerability"]["severity"]])

    parsed = grype.parse(data)

    assert len(parsed.findings) == len(distinct)
    assert Counter(f.severity for f in parsed.findings) == Counter(distinct.values())


def test_a_match_listed_twice_is_one_finding_that_counts_its_occurrences() -> None:
    parsed = grype.parse(sample("grype/check_all_fields.json"))

    django = [f for f in parsed.findings if f.rule_id == "GHSA-v6rh-hp5x-86rv"]
    assert len(django) == 1
    assert django[0].evidence["occurrences"] == 2
    assert (django[0].component, django[0].version, django[0].fixed_version) == (
        "Django",
        "3.2.9",
        "3.2.10",
    )


def test_fields_and_locations_come_from_the_artifact_and_the_source_image() -> None:
    parsed = grype.parse(sample("grype/check_all_fields.json"))

    redis = next(f for f in parsed.findings if f.rule_id == "CVE-2021-32626")
    assert redis.fixed_version == "fix_1, fix_2"
    assert redis.location == (
        "vulnerable-image:latest:usr/local/lib/python3.8/site-packages/redis-4.0.2.dist-info/METADATA"
    )
    negligible = next(f for f in parsed.findings if f.rule_id == "CVE-2004-0971")
    assert negligible.severity == "info"
    assert negligible.description.startswith(
        "The krb5-send-pr script"
    )  # from the related NVD record


def test_a_directory_scan_uses_the_package_path_as_location() -> None:
    parsed = grype.parse(sample("grype/many_vulns4.json"))

    assert {f.location for f in parsed.findings if f.component == "redis"} == {"requirements.txt"}


def test_it_reads_a_0_7_era_match_with_fixed_in_version_and_links() -> None:
    old = {
        "matches": [
            {
                "vulnerability": {
                    "id": "CVE-2020-0001",
                    "severity": "High",
                    "fixedInVersion": "1.2.4",
                    "links": ["https://example.test/CVE-2020-0001"],
                },
                "matchDetails": {"matcher": "dpkg-matcher"},
                "artifact": {
                    "name": "zlib",
                    "version": "1.2.3",
                    "locations": ["/var/lib/dpkg/status"],
                },
            }
        ],
        "source": {"type": "image", "target": {"userInput": "debian:9"}},
        "descriptor": {"name": "grype", "version": "0.7.0"},
    }

    [finding] = grype.parse(json.dumps(old).encode()).findings

    assert (finding.severity, finding.fixed_version) == ("high", "1.2.4")
    assert finding.location == "debian:9:var/lib/dpkg/status"
    assert finding.references == ["https://example.test/CVE-2020-0001"]


@pytest.mark.parametrize("data", [b"", b"[]", b'{"source": {}}', b"not json"])
def test_it_refuses_what_is_not_a_grype_report(data: bytes) -> None:
    with pytest.raises(ValueError):
        grype.parse(data)
