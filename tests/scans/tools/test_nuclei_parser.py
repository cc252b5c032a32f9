"""nuclei output (JSON Lines, JSON array, empty) parses into findings matching the raw files."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from scans.tools import nuclei
from tests.scans.tools.conftest import sample

EXPECTED_SEVERITY = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "info": "info",
    "unknown": "info",
}
SAMPLES = ["nuclei/many_findings_new.json", "nuclei/multiple_v3.json", "nuclei/empty.jsonl"]


def raw_results(data: bytes) -> list[dict[str, Any]]:
    body = data.decode().strip()
    if not body:
        return []
    if body.startswith("["):
        return json.loads(body)
    return [json.loads(line) for line in body.splitlines() if line.strip()]


@pytest.mark.smoke
@pytest.mark.parametrize("name", SAMPLES)
def test_it_reads_every_result_with_its_severity(name: str) -> None:
    data = sample(name)
    expected = Counter(EXPECTED_SEVERITY[r["info"]["severity"]] for r in raw_results(data))

    parsed = nuclei.parse(data)

    assert len(parsed.findings) == sum(expected.values())
    assert Counter(f.severity for f in parsed.findings) == expected


def test_template_id_is_the_rule_and_matched_at_the_location() -> None:
    parsed = nuclei.parse(sample("nuclei/many_findings_new.json"))

    cve = next(f for f in parsed.findings if f.rule_id == "CVE-2018-15473")
    assert cve.location == "nuclei-example.com:22"
    assert cve.title == "OpenSSH Username Enumeration v7.7"
    assert cve.evidence["cve"] == ["cve-2018-15473"]
    assert cve.references == ["https://nvd.nist.gov/vuln/detail/cve-2018-15473"]
    metrics = next(f for f in parsed.findings if f.rule_id == "prometheus-metrics")
    assert (metrics.severity, metrics.location) == ("low", "https://nuclei-example.com/metrics")


def test_one_template_matching_twice_at_one_place_gives_two_findings() -> None:
    parsed = nuclei.parse(sample("nuclei/multiple_v3.json"))

    tls = [f for f in parsed.findings if f.rule_id == "tls-version"]
    assert sorted(f.component for f in tls) == ["tls12", "tls13"]
    assert len({f.fingerprint for f in tls}) == 2
    wix = next(f for f in parsed.findings if f.rule_id == "dns-saas-service-detection")
    assert (wix.component, wix.title) == ("wix", "DNS SaaS Service Detection (wix)")


def test_the_timestamp_is_not_part_of_a_findings_identity() -> None:
    [line] = [
        ln for ln in sample("nuclei/many_findings_new.json").splitlines() if b"prometheus" in ln
    ]
    later = json.loads(line)
    later["timestamp"] = "2030-01-01T00:00:00Z"
    later["ip"] = "127.0.0.2"

    [first] = nuclei.parse(line).findings
    [second] = nuclei.parse(json.dumps(later).encode()).findings

    assert first.fingerprint == second.fingerprint


@pytest.mark.parametrize("data", [b"{not json", b'{"info": {}}', b"[1, 2]"])
def test_it_refuses_what_is_not_nuclei_output(data: bytes) -> None:
    with pytest.raises(ValueError):
        nuclei.parse(data)
