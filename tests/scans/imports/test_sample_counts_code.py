"""For every sample of the code, dependency, secret and cluster scanners and of the generic
formats (SARIF, CycloneDX), the count and severity histogram of the findings worked out here
from the raw file, and a few fields."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.scanning import SCANNER_OUTPUTS
from tests.scans.imports.test_sample_counts_web import files, histogram, ids, read

SARIF_LEVELS = {"error": "high", "warning": "medium", "note": "low", "none": "info"}


def cvss_band(score: float) -> str:
    return (
        "critical"
        if score >= 9
        else "high"
        if score >= 7
        else "medium"
        if score >= 4
        else "low"
        if score > 0
        else "info"
    )


@pytest.mark.parametrize("path", files("sarif", ".sarif", ".json"), ids=ids)
def test_sarif_one_finding_per_rule_and_place(path: Path) -> None:
    log = json.loads(path.read_bytes())
    expected: dict[tuple[str, ...], str] = {}
    for run in log["runs"]:
        rules = run["tool"]["driver"].get("rules") or []
        by_id = {r.get("id"): r for r in rules}
        for result in run.get("results") or []:
            if result.get("kind") in ("pass", "notApplicable"):
                continue
            rule_id = result.get("ruleId") or (
                rules[result["ruleIndex"]]["id"] if "ruleIndex" in result else ""
            )
            rule = by_id.get(rule_id) or {}
            score = (result.get("properties") or {}).get("security-severity") or (
                rule.get("properties") or {}
            ).get("security-severity")
            level = (
                result.get("level")
                or (rule.get("defaultConfiguration") or {}).get("level")
                or "warning"
            )
            severity = cvss_band(float(score)) if score else SARIF_LEVELS[level]
            if run["tool"]["driver"]["name"].lower() == "gitleaks":
                severity = "high"  # a leaked secret is high, whatever the level (Gitleaks' reader)
            physical = ((result.get("locations") or [{}])[0] or {}).get("physicalLocation") or {}
            uri = (physical.get("artifactLocation") or {}).get("uri", "")
            line = (physical.get("region") or {}).get("startLine")
            expected.setdefault((run["tool"]["driver"]["name"], rule_id, uri, str(line)), severity)

    parsed = read(path)

    assert len(parsed.findings) == len(expected)
    assert histogram(parsed) == Counter(expected.values())


def test_generic_sarif_names_findings_after_the_driver() -> None:
    parsed = read(SCANNER_OUTPUTS / "sarif/flawfinder.sarif")
    assert {f.tool for f in parsed.findings} == {"flawfinder"}
    assert all(
        f.location.split(":")[0].endswith((".c", ".h", ".cc", ".cpp")) for f in parsed.findings
    )


@pytest.mark.parametrize("path", files("cyclonedx", ".json"), ids=ids)
def test_cyclonedx_json_one_finding_per_vulnerability_and_component(path: Path) -> None:
    bom = json.loads(path.read_bytes())
    pairs = {
        (v["id"], a.get("ref", ""))
        for v in bom.get("vulnerabilities") or []
        if (v.get("analysis") or {}).get("state")
        not in ("not_affected", "false_positive", "resolved")
        for a in v.get("affects") or [{}]
    }

    parsed = read(path)

    assert len(parsed.findings) == len(pairs)


@pytest.mark.parametrize("path", files("cyclonedx", ".xml"), ids=ids)
def test_cyclonedx_xml_one_finding_per_vulnerability(path: Path) -> None:
    body = path.read_bytes()
    vulnerabilities = (
        body.count(b"<v:vulnerability ")
        + body.count(b"<vulnerability ")
        + body.count(b"<vulnerability>")
    )
    # VEX: what the producer marks not affected is no finding.
    vulnerabilities -= sum(body.count(b"<state>" + state + b"</state>") for state in NOT_AFFECTED)

    parsed = read(path)

    assert (
        0 < len(parsed.findings) <= vulnerabilities or vulnerabilities == len(parsed.findings) == 0
    )


def test_cyclonedx_without_severity_rates_by_score_and_keeps_the_vector() -> None:
    [finding] = read(SCANNER_OUTPUTS / "cyclonedx/no-severity.json").findings
    assert finding.severity == "critical" and finding.cvss_v3_vector.startswith("CVSS:3.1/")
    assert finding.vuln_ids == ["CVE-2021-44228"]


NOT_AFFECTED = (b"not_affected", b"false_positive", b"resolved")
SEMGREP = {
    "ERROR": "high",
    "WARNING": "medium",
    "INFO": "info",
    "LOW": "low",
    "MEDIUM": "medium",
    "HIGH": "high",
    "CRITICAL": "critical",
}


@pytest.mark.parametrize("path", files("semgrep", ".json"), ids=ids)
def test_semgrep_one_finding_per_rule_and_line(path: Path) -> None:
    results = json.loads(path.read_bytes())["results"]
    expected = {
        (r["check_id"], r["path"].lstrip("/"), r["start"]["line"]): SEMGREP[r["extra"]["severity"]]
        for r in results
    }

    parsed = read(path)

    assert len(parsed.findings) == len(expected)
    assert histogram(parsed) == Counter(expected.values())


@pytest.mark.parametrize("path", files("trufflehog", ".json"), ids=ids)
def test_trufflehog_one_finding_per_secret_place_never_the_secret(path: Path) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    expected: dict[tuple[str, ...], str] = {}
    secrets = []
    for r in records:
        if "SourceMetadata" in r:
            source = next(iter(r["SourceMetadata"]["Data"].values()))
            expected.setdefault(
                (r["DetectorName"], source["file"], str(source["line"])),
                "critical" if r["Verified"] else "high",
            )
            secrets.append(r["Raw"])
        else:
            expected.setdefault((r["reason"], r["path"], r["commitHash"]), "high")
            secrets += [s.split("'")[1] for s in r["stringsFound"] if s.count("'") >= 2]

    parsed = read(path)

    assert len(parsed.findings) == len(expected)
    assert histogram(parsed) == Counter(expected.values())
    stored = json.dumps([f.to_dict() for f in parsed.findings])
    assert not any(secret and len(secret) >= 8 and secret in stored for secret in secrets)


@pytest.mark.parametrize(
    "path", [p for p in files("osv_scanner", ".json") if p.stat().st_size], ids=ids
)
def test_osv_scanner_one_finding_per_vulnerability_group_and_package(path: Path) -> None:
    report = json.loads(path.read_bytes())
    groups = [
        (
            result["source"]["path"],
            package["package"]["name"],
            tuple(group["ids"]),
            group.get("max_severity", ""),
        )
        for result in report["results"]
        for package in result["packages"]
        for group in package.get("groups")
        or [{"ids": [v["id"]]} for v in package["vulnerabilities"]]
    ]

    parsed = read(path)

    assert len(parsed.findings) == len(set(groups))
    scored = Counter(cvss_band(float(score)) for *_, score in set(groups) if score)
    assert all(histogram(parsed)[severity] >= count for severity, count in scored.items())


OPERATOR_CHECKS = {
    "ConfigAuditReport",
    "ClusterConfigAuditReport",
    "RbacAssessmentReport",
    "ClusterRbacAssessmentReport",
    "InfraAssessmentReport",
    "ClusterInfraAssessmentReport",
}


def _operator_resources(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, list):
        return raw
    assert isinstance(raw, dict)
    if "apiVersion" in raw:
        return [raw]
    return [r for value in raw.values() for r in value]


@pytest.mark.parametrize("path", files("trivy_operator", ".json"), ids=ids)
def test_trivy_operator_one_finding_per_vulnerability_failed_check_and_secret(path: Path) -> None:
    expected: Counter[str] = Counter()
    for resource in _operator_resources(json.loads(path.read_bytes())):
        report = resource.get("report") or {}
        if resource["kind"] == "VulnerabilityReport":
            expected.update(v["severity"].lower() for v in report["vulnerabilities"])
        elif resource["kind"] in OPERATOR_CHECKS:
            expected.update(
                c["severity"].lower() for c in report["checks"] if c["success"] is False
            )
        elif resource["kind"] == "ExposedSecretReport":
            expected.update(s["severity"].lower() for s in report["secrets"])
        elif resource["kind"] == "ClusterComplianceReport":
            status = resource["status"]
            for result in (status.get("detailReport") or {}).get("results") or []:
                expected.update(
                    (c["severity"] or result["severity"]).lower()
                    for c in result["checks"]
                    if c["success"] is False
                )
            if not status.get("detailReport"):
                expected.update(
                    c["severity"].lower()
                    for c in status["summaryReport"]["controlCheck"]
                    if c["totalFail"]
                )

    parsed = read(path)

    assert histogram(parsed) == expected


@pytest.mark.parametrize("path", files("sslyze", ".json"), ids=ids)
def test_sslyze_reports_what_its_json_says(path: Path) -> None:
    raw = json.loads(path.read_bytes())
    expected = set()
    for server in raw["server_scan_results"]:
        commands = server.get("scan_result") or server.get("scan_commands_results") or {}

        def result(name: str, commands: dict[str, Any] = commands) -> dict[str, Any]:
            entry = commands.get(name) or {}
            return (entry.get("result") or {}) if "status" in entry else entry

        if result("heartbleed").get("is_vulnerable_to_heartbleed"):
            expected.add("heartbleed")
        if result("openssl_ccs_injection").get("is_vulnerable_to_ccs_injection"):
            expected.add("ccs-injection")
        for version in ("tls_1_0", "tls_1_1", "ssl_2_0", "ssl_3_0"):
            suites = result(f"{version}_cipher_suites")
            if suites.get("accepted_cipher_suites") or suites.get("is_tls_version_supported"):
                expected.add(f"protocol-{version}")

    rules = {f.rule_id for f in read(path).findings}

    assert expected <= rules
    assert all(
        r in expected
        or r.startswith(
            (
                "weak-cipher-",
                "client-",
                "insecure-",
                "compression",
                "no-fallback",
                "certificate-",
                "robot",
            )
        )
        for r in rules
    )
