"""For every sample of the web, network and TLS scanners, the count and the severity histogram
of the findings, worked out here from the raw file with the rule each reader documents (one
finding per rule and place), and a few fields."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring

from scans.imports.detection import report_detect
from scans.tools import report_parse
from scans.tools.kit.reports import ParsedReport
from scans.tools.kit.values import url_or_blank
from tests.scanning import SCANNER_OUTPUTS


def read(path: Path) -> ParsedReport:
    detected = report_detect(path.read_bytes())
    return report_parse(detected.tool, detected.format, path.read_bytes())


def files(folder: str, *suffixes: str) -> list[Path]:
    return sorted(
        p for p in (SCANNER_OUTPUTS / folder).rglob("*") if p.is_file() and p.suffix in suffixes
    )


def histogram(parsed: ParsedReport) -> Counter[str]:
    return Counter(f.severity for f in parsed.findings)


def ids(path: Path) -> str:
    return str(path.relative_to(SCANNER_OUTPUTS))


ZAP_RISK = {"3": "high", "2": "medium", "1": "low", "0": "info"}


@pytest.mark.parametrize("path", files("zap", ".xml"), ids=ids)
def test_zap_one_finding_per_alert_and_url(path: Path) -> None:
    root = fromstring(path.read_bytes())
    expected: dict[tuple[str, str], str] = {}
    for item in root.iter("alertitem"):
        if item.findtext("confidence") == "0":
            continue
        for instance in item.iter("instance"):
            url = url_or_blank(instance.findtext("uri"))
            expected.setdefault(
                (item.findtext("pluginid") or "", url), ZAP_RISK[item.findtext("riskcode") or "0"]
            )

    parsed = read(path)

    assert len(parsed.findings) == len(expected)
    assert histogram(parsed) == Counter(expected.values())


def test_zap_keeps_cwe_references_and_the_exchange() -> None:
    parsed = read(SCANNER_OUTPUTS / "zap/zap-xml-plus-format.xml")
    [finding] = parsed.findings
    assert finding.rule_id == "90028" and finding.cwe_ids == ["CWE-200"]
    assert finding.evidence["requestheader"].startswith("PUT http://localhost:8080/bodgeit/js/")
    assert finding.location == "http://localhost:8080/bodgeit/js/qndto7n63d"


BURP = {"high": "high", "medium": "medium", "low": "low", "information": "info"}


@pytest.mark.parametrize("path", files("burp", ".xml"), ids=ids)
def test_burp_one_finding_per_issue_type_and_url(path: Path) -> None:
    root = fromstring(path.read_bytes())
    expected: dict[tuple[str, str], str] = {}
    for issue in root.iter("issue"):
        url = url_or_blank(
            (issue.findtext("host") or "").rstrip("/")
            + "/"
            + (issue.findtext("path") or "").lstrip("/")
        )
        expected.setdefault(
            (issue.findtext("type") or "", url), BURP[(issue.findtext("severity") or "").lower()]
        )

    parsed = read(path)

    assert len(parsed.findings) == len(expected)
    assert histogram(parsed) == Counter(expected.values())


def test_burp_decodes_the_request_and_reads_cwe_ids() -> None:
    [finding] = read(SCANNER_OUTPUTS / "burp/one_finding_with_cwe.xml").findings
    assert finding.cwe_ids == ["CWE-524", "CWE-525"]
    assert finding.evidence["request"].startswith("GET /test/v4/public/users/fake HTTP/1.1")
    assert finding.location == "https://example.com/test/v4/public/users/fake"


NESSUS_LEVEL = {"4": "critical", "3": "high", "2": "medium", "1": "low", "0": "info"}


@pytest.mark.parametrize("path", [p for p in files("tenable", ".xml", ".nessus")], ids=ids)
def test_nessus_xml_one_finding_per_plugin_and_port(path: Path) -> None:
    root = fromstring(path.read_bytes())
    expected: dict[tuple[str, ...], str] = {}
    for host in root.iter("ReportHost"):
        for item in host.iter("ReportItem"):
            key = (
                host.get("name") or "",
                item.get("pluginID") or "",
                item.get("port") or "",
                item.get("protocol") or "",
            )
            expected.setdefault(key, NESSUS_LEVEL[item.get("severity") or "0"])

    parsed = read(path)

    assert len(parsed.findings) == len(expected)
    assert histogram(parsed) == Counter(expected.values())


@pytest.mark.parametrize("path", files("tenable", ".csv"), ids=ids)
def test_nessus_csv_rows_of_one_plugin_and_port_are_one_finding(path: Path) -> None:
    text = path.read_text(encoding="utf-8-sig")
    delimiter = (
        ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    )
    rows = [
        {k.lower(): v for k, v in row.items()}
        for row in csv.DictReader(io.StringIO(text), delimiter=delimiter)
    ]
    keys = set()
    for row in rows:
        plugin = row.get("plugin id") or row.get("plugin") or row.get("definition.id") or ""
        host = row.get("host") or row.get("ip address") or row.get("asset.host_name") or ""
        if plugin or host:
            keys.add((plugin, host, row.get("port"), (row.get("protocol") or "").lower()))

    parsed = read(path)

    assert len(parsed.findings) == len(keys)


def test_nessus_keeps_cves_cwes_and_the_cvss_vector() -> None:
    [finding] = read(SCANNER_OUTPUTS / "tenable/nessus/nessus_with_cwe-.nessus").findings
    assert finding.cwe_ids and finding.vuln_ids and finding.severity == "high"


OPENVAS_THREAT = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "log": "info",
    "debug": "info",
}


@pytest.mark.parametrize("path", files("openvas", ".xml"), ids=ids)
def test_openvas_xml_one_finding_per_nvt_and_port(path: Path) -> None:
    root = fromstring(path.read_bytes())
    expected: dict[tuple[str, ...], str] = {}
    for result in root.iter("result"):
        nvt = result.find("nvt")
        threat = (result.findtext("threat") or "").lower()
        if nvt is None or threat.startswith("false"):
            continue
        host = (result.find("host").text or "").strip()  # type: ignore[union-attr]
        expected.setdefault(
            (nvt.get("oid") or "", host, result.findtext("port") or ""), OPENVAS_THREAT[threat]
        )

    parsed = read(path)

    assert len(parsed.findings) == len(expected)
    assert histogram(parsed) == Counter(expected.values())


@pytest.mark.parametrize("path", files("openvas", ".csv"), ids=ids)
def test_openvas_csv_one_finding_per_nvt_and_port(path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    expected = {
        (row["NVT OID"], row["IP"], row["Port"], row["Port Protocol"]): OPENVAS_THREAT[
            row["Severity"].lower()
        ]
        for row in rows
        if row["NVT OID"]
    }

    parsed = read(path)

    assert len(parsed.findings) == len(expected)
    assert histogram(parsed) == Counter(expected.values())


@pytest.mark.parametrize("path", files("nikto", ".xml", ".json"), ids=ids)
def test_nikto_one_low_finding_per_item(path: Path) -> None:
    data = path.read_bytes()
    if path.suffix == ".json":
        messages = {
            (v["id"], v["url"], v["msg"]) for t in json.loads(data) for v in t["vulnerabilities"]
        }
    else:
        messages = {
            (i.get("id"), i.findtext("namelink"), i.findtext("description"))
            for i in fromstring(data).iter("item")
        }

    parsed = read(path)

    assert len(parsed.findings) == len(messages)
    assert set(histogram(parsed)) <= {"low"}


@pytest.mark.parametrize(
    "path", [p for p in files("wpscan", ".json") if p.name != "empty.json"], ids=ids
)
def test_wpscan_vulnerabilities_outdated_components_and_interesting_findings(path: Path) -> None:
    raw = json.loads(path.read_bytes())
    components = [raw.get("version") or {}, raw.get("main_theme") or {}]
    components += list((raw.get("themes") or {}).values()) + list(
        (raw.get("plugins") or {}).values()
    )
    vulns = sum(len(c.get("vulnerabilities") or []) for c in components if c)
    outdated = sum(
        1 for c in components if c and (c.get("status") == "insecure" or c.get("outdated") is True)
    )
    interesting = len(raw.get("interesting_findings") or [])

    parsed = read(path)

    assert histogram(parsed)["info"] == interesting
    assert histogram(parsed)["low"] == outdated
    assert len(parsed.findings) == interesting + outdated + vulns


@pytest.mark.parametrize("path", files("naabu", ".json") + files("masscan", ".json"), ids=ids)
def test_port_discovery_gives_one_open_port_per_port(path: Path) -> None:
    text = path.read_text()
    if text.lstrip().startswith("["):
        ports = {
            (r["ip"], p["port"])
            for r in json.loads(text)
            for p in r["ports"]
            if p["status"] == "open"
        }
    else:
        ports = {
            (r["ip"], r["port"]) for r in map(json.loads, filter(str.strip, text.splitlines()))
        }

    parsed = read(path)

    assert histogram(parsed) == Counter({"info": len(ports)})
    assert len(parsed.items) == len(ports)


@pytest.mark.parametrize("path", files("httpx", ".json"), ids=ids)
def test_httpx_one_url_per_probe(path: Path) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    urls = {r["url"] for r in records if not r.get("failed")}

    parsed = read(path)

    assert histogram(parsed) == Counter({"info": len(urls)})
    assert {i.value for i in parsed.items} == urls


@pytest.mark.parametrize("path", files("dirsearch", ".json"), ids=ids)
def test_dirsearch_one_url_per_result(path: Path) -> None:
    results = json.loads(path.read_bytes())["results"]

    parsed = read(path)

    assert [i.value for i in parsed.items] == [r["url"] for r in results]
    assert [i.attrs["status"] for i in parsed.items] == [r["status"] for r in results]
