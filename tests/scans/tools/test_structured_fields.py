"""The parsers fill the structured vulnerability fields (CVSS v3.x/v4.0, CWE, CVE/GHSA, EPSS, KEV,
fix available) from what the real reports carry, checked against the raw files."""

from __future__ import annotations

import json

from scans.engine.runtime import FindingData
from scans.engine.vulns import cvss_parse, cwe_ids, finding_vulns_clean, vuln_ids_in
from scans.tools import gitleaks, grype, nmap, nuclei, trivy
from tests.scans.tools.conftest import sample


def _by_rule(findings: list[FindingData], rule_id: str) -> list[FindingData]:
    return [f for f in findings if f.rule_id == rule_id]


def test_trivy_fills_cvss_cwe_aliases_and_fix_from_a_schema_2_report() -> None:
    findings = trivy.parse(sample("trivy/scheme_2_many_vulns.json")).findings
    freetype = _by_rule(findings, "CVE-2020-15999")[0]
    # SeveritySource is nvd: NVD's vector, not Red Hat's (8.6).
    assert freetype.cvss_v3_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"
    assert freetype.cvss_v3_score == 6.5
    assert freetype.cvss_v4_vector == "" and freetype.cvss_v4_score is None
    assert freetype.cwe_ids == ["CWE-787"]
    assert freetype.vuln_ids == ["CVE-2020-15999", "GHSA-pv36-h7jh-qm62"]
    assert freetype.fixed_version == "2.9.1-r3" and freetype.has_fix is True
    assert freetype.component == "freetype" and freetype.version == "2.9.1-r2"


def test_every_trivy_score_is_the_one_the_report_states_for_the_chosen_vector() -> None:
    """The library's base score of each vector equals the V3Score Trivy wrote beside it."""
    for name in ("trivy/scheme_2_many_vulns.json", "trivy/legacy_many_vulns.json"):
        document = json.loads(sample(name))
        results = document if isinstance(document, list) else document["Results"]
        stated: dict[str, float] = {}
        for result in results:
            for vuln in result.get("Vulnerabilities") or []:
                for source in (vuln.get("CVSS") or {}).values():
                    if source.get("V3Vector"):
                        stated[source["V3Vector"]] = source["V3Score"]
        findings = trivy.parse(sample(name)).findings
        scored = [f for f in findings if f.cvss_v3_vector]
        assert scored, name
        for finding in scored:
            assert finding.cvss_v3_score == stated[finding.cvss_v3_vector], finding.rule_id
        unfixed = [f for f in findings if not f.fixed_version]
        assert all(not f.has_fix for f in unfixed)
        assert all(f.has_fix for f in findings if f.fixed_version)


def test_trivy_secrets_are_hard_coded_credentials() -> None:
    findings = trivy.parse(sample("trivy/misconfigurations_and_secrets.json")).findings
    secrets = [f for f in findings if "secret" in f.tags]
    assert secrets and all(f.cwe_ids == ["CWE-798"] for f in secrets)


def test_grype_fills_cvss_from_the_vulnerability_then_its_related_records() -> None:
    document = json.loads(sample("grype/check_all_fields.json"))
    findings = grype.parse(sample("grype/check_all_fields.json")).findings
    for match in document["matches"]:
        vuln = match["vulnerability"]
        finding = next(f for f in findings if f.rule_id == vuln["id"])
        records = [vuln, *match.get("relatedVulnerabilities", [])]
        v3 = [c for r in records for c in r.get("cvss") or [] if c["version"].startswith("3")]
        if v3:
            assert finding.cvss_v3_vector == v3[0]["vector"]
            assert finding.cvss_v3_score == v3[0]["metrics"]["baseScore"]
        else:
            assert finding.cvss_v3_vector == "" and finding.cvss_v3_score is None
        related = [r["id"] for r in match.get("relatedVulnerabilities", [])]
        assert finding.vuln_ids[0] == vuln["id"] and set(related) <= set(finding.vuln_ids)
        assert finding.has_fix == (vuln["fix"]["state"] == "fixed" or bool(vuln["fix"]["versions"]))
    assert any(f.cvss_v3_score == 8.8 for f in findings)


def test_grype_reads_epss_and_known_exploited_where_newer_versions_write_them() -> None:
    """grype 0.80+ adds `epss` and `knownExploited` to each vulnerability: the first real match
    of the sample, with them added in that shape."""
    document = json.loads(sample("grype/check_all_fields.json"))
    match = document["matches"][0]
    cve = match["vulnerability"]["id"]
    match["vulnerability"]["epss"] = [
        {"cve": cve, "epss": 0.97102, "percentile": 0.99814, "date": "2024-10-01"}
    ]
    match["vulnerability"]["knownExploited"] = [
        {"cve": cve, "knownRansomwareCampaignUse": "Known", "dateAdded": "2022-01-10"}
    ]
    document["matches"] = [match]
    finding = grype.parse(json.dumps(document).encode()).findings[0]
    assert finding.epss_score == 0.97102 and finding.epss_percentile == 0.99814
    assert finding.is_kev is True
    plain = grype.parse(sample("grype/many_vulns4.json")).findings
    assert all(f.epss_score is None and not f.is_kev for f in plain)


def test_nuclei_fills_cwe_cve_and_cvss_from_the_template_classification() -> None:
    findings = nuclei.parse(sample("nuclei/many_findings_new.json")).findings
    openssh = _by_rule(findings, "CVE-2018-15473")[0]
    assert openssh.cwe_ids == ["CWE-362"]
    assert openssh.vuln_ids == ["CVE-2018-15473"]
    assert openssh.cvss_v3_vector == "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"
    assert openssh.cvss_v3_score == 5.3
    v3 = nuclei.parse(sample("nuclei/multiple_v3.json")).findings
    assert [f.cwe_ids for f in v3 if f.cwe_ids] == [["CWE-200"]]


def test_nuclei_reads_epss_and_the_kev_tag() -> None:
    """Recent nuclei-templates carry EPSS in the classification and tag KEV templates `kev`: the
    real CVE-2018-15473 result with those added."""
    line = sample("nuclei/many_findings_new.json").splitlines()[0]
    result = json.loads(line)
    result["info"]["classification"].update({"epss-score": 0.00921, "epss-percentile": 0.82})
    result["info"]["tags"].append("kev")
    finding = nuclei.parse(json.dumps(result).encode()).findings[0]
    assert finding.epss_score == 0.00921 and finding.epss_percentile == 0.82
    assert finding.is_kev is True


def test_gitleaks_secrets_are_hard_coded_credentials() -> None:
    for name in ("gitleaks/gitleaks8_many.json", "gitleaks/data_many.json"):
        findings = gitleaks.parse(sample(name)).findings
        assert findings and all(f.cwe_ids == ["CWE-798"] for f in findings)


def test_nmap_vulners_entries_name_their_cve() -> None:
    findings = nmap.parse(sample("nmap/nmap_script_vulners.xml")).findings
    cves = [f for f in findings if f.rule_id.upper().startswith("CVE-")]
    assert cves and all(f.vuln_ids == [f.rule_id.upper()] for f in cves)


def test_storing_drops_a_malformed_vector_and_rescores_a_valid_one() -> None:
    finding = FindingData(
        tool="x", severity="high", title="t",
        cvss_v3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", cvss_v3_score=1.0,
        cvss_v4_vector="CVSS:4.0/AV:X/garbage", cvss_v4_score=9.9,
        cwe_ids=["cwe-79", "79", "NVD-CWE-Other", "CWE-79: XSS"],
        vuln_ids=["cve-2024-0001", "see GHSA-ABCD-efgh-2345"],
        epss_score=1.7, epss_percentile="95%",  # type: ignore[arg-type]
        references=["https://example.test/a", "javascript:alert(1)", "https://example.test/a"],
        fixed_version="1.2.3",
    )  # fmt: skip
    finding_vulns_clean(finding)
    assert finding.cvss_v3_score == 9.8  # from the vector, not the stated 1.0
    assert finding.cvss_v4_vector == "" and finding.cvss_v4_score is None
    assert finding.cwe_ids == ["CWE-79"]
    assert finding.vuln_ids == ["CVE-2024-0001", "GHSA-abcd-efgh-2345"]
    assert finding.epss_score is None and finding.epss_percentile == 0.95
    assert finding.has_fix is True
    assert finding.references == ["https://example.test/a", "javascript:alert(1)"]


def test_storing_keeps_ids_a_parser_normalized_and_normalizes_the_others() -> None:
    # Ids as cwe_ids and vuln_ids_in write them are recognised, not normalized again: whatever
    # else a list holds (a repeat, another spelling, text around an id) is normalized.
    written = FindingData(
        tool="x", severity="low", title="t", cwe_ids=["CWE-79", "CWE-12345"],
        vuln_ids=["CVE-2024-0001", "GHSA-abcd-efgh-2345", "CVE-2099-123456"],
    )  # fmt: skip
    assert finding_vulns_clean(written).cwe_ids == ["CWE-79", "CWE-12345"]
    assert written.vuln_ids == ["CVE-2024-0001", "GHSA-abcd-efgh-2345", "CVE-2099-123456"]
    for cwes, vulns in (
        (["CWE-79", "CWE-79"], ["CVE-2024-0001", "CVE-2024-0001"]),
        (["CWE-079"], ["cve-2024-0001"]),
        (["CWE-79", "CWE-0"], ["CVE-2024-0001", "GHSA-ABCD-efgh-2345"]),
        (["CWE-79", 89], ["CVE-2024-0001 (see GHSA-abcd-efgh-2345)"]),
    ):
        finding = FindingData(tool="x", severity="low", title="t", cwe_ids=cwes, vuln_ids=vulns)  # type: ignore[arg-type]
        finding_vulns_clean(finding)
        assert finding.cwe_ids == cwe_ids(cwes)
        assert finding.vuln_ids == vuln_ids_in(vulns)
        assert finding.cwe_ids[0] == "CWE-79" and finding.vuln_ids[0] == "CVE-2024-0001"


def test_cvss_v4_vectors_are_scored_by_the_library() -> None:
    parsed = cvss_parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
    assert parsed is not None and parsed.version == "4.0" and parsed.score == 9.3
    assert parsed.rating == "Critical"
    assert cvss_parse("AV:N/AC:M/Au:N/C:N/I:N/A:P") is None  # v2: not kept
    assert cwe_ids([None, "", 0, "CWE-0"]) == []
