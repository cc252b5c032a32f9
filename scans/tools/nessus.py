"""Tenable Nessus and Nessus WAS (https://www.tenable.com): vulnerability scans of hosts and web
applications. Imported only.

Reads:
- the `.nessus` XML (`NessusClientData_v2`, Nessus 6 to 10, Tenable.io and Nessus WAS exports:
  `Report` → `ReportHost` → `ReportItem`);
- the CSV exports: Nessus / Nessus WAS (`Plugin ID,CVE,CVSS,Risk,Host,Protocol,Port,Name,…`, one
  row per plugin, host, port and CVE: the rows of one plugin on one port are one finding with
  every CVE), Tenable.sc (`"Plugin","Plugin Name","Family","Severity","IP Address",…`) and
  Tenable Vulnerability Management (`;`-separated, `definition.id`, `asset.host_name`, …).

One finding per plugin and host:port: rule id = the plugin id, title = the plugin name,
severity from the XML's `severity` (4 critical … 0 info) or the CSV's risk/severity word ("None"
→ info), CVE and CWE ids, CVSS v3/v4 vectors (v2 ones are not kept), EPSS, references
(`see_also`), the plugin output and synopsis as evidence, `exploit_available`. Location =
`host:port/proto` (the host alone for port 0); for Nessus WAS the URL it names. Every host (and
open service) is recorded in the inventory. Informational plugins (severity 0: "Nessus Scan
Information", service detection…) are findings of severity info, as Nessus lists them.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from scans.engine.runtime import FindingData
from scans.engine.vulns import cvss_fill, cwe_ids, probability, score_or_none, vuln_ids_in
from scans.tools.kit.detect import csv_header, xml_root
from scans.tools.kit.reports import (
    EVIDENCE_MAX,
    ParsedReport,
    bulk_parser,
    csv_rows,
    load_xml,
    named_severity,
    text,
    urls_in,
    xml_text,
)
from scans.tools.kit.tool import ReportFormat, Tool
from scans.tools.kit.values import canonical_url
from targets.items import Item

TOOL = "nessus"
LEVELS = {"4": "critical", "3": "high", "2": "medium", "1": "low", "0": "info"}
# Column names of the three CSV dialects, first match wins.
COLUMNS = {
    "plugin": ("plugin id", "plugin", "definition.id"),
    "name": ("name", "plugin name", "definition.name"),
    "risk": ("risk", "severity", "risk factor"),
    "host": ("host", "ip address", "asset.host_name", "asset.display_fqdn", "asset.display_ipv4_address", "dns name"),
    "port": ("port",),
    "protocol": ("protocol",),
    "cve": ("cve", "definition.cve"),
    "cwe": ("cwe", "definition.cwe"),
    "synopsis": ("synopsis", "definition.synopsis"),
    "description": ("description", "definition.description"),
    "solution": ("solution", "steps to remediate", "definition.solution"),
    "see_also": ("see also", "definition.see_also"),
    "output": ("plugin output", "output"),
    "cvss3_vector": ("cvss3 vector", "cvss v3 vector", "definition.cvss3.base_vector"),
    "cvss3_score": ("cvss v3.0 base score", "cvss3 base score", "cvssv3", "cvss v3 base score"),
}  # fmt: skip


def _is_nessus_xml(data: bytes) -> bool:
    return xml_root(data) == "NessusClientData_v2"


def _dialect(data: bytes) -> str:
    """ "," or ";" for a Nessus/Tenable CSV export, else ""."""
    for delimiter in (",", ";"):
        header = set(csv_header(data, delimiter))
        if {"plugin id", "risk", "host", "port"} <= header:
            return delimiter
        if {"plugin", "plugin name", "severity", "ip address"} <= header:
            return delimiter
        if {"definition.id", "definition.name", "severity", "port"} <= header:
            return delimiter
    return ""


def _is_nessus_csv(data: bytes) -> bool:
    return bool(_dialect(data))


NODE = Tool(
    type=TOOL,
    label="Nessus",
    group="Scan",
    icon="radar",
    help="Vulnerabilities from Tenable Nessus and Nessus WAS reports (.nessus, CSV).",
    order=52,
    imports_only=True,
    sarif_uri="https://www.tenable.com/products/nessus",
    formats=(
        ReportFormat(
            name="nessus-xml",
            label="Nessus .nessus XML",
            detect=_is_nessus_xml,
            command="Nessus: Scans → Export → Nessus",
        ),
        ReportFormat(
            name="nessus-csv",
            label="Nessus / Tenable CSV",
            detect=_is_nessus_csv,
            command="Nessus: Scans → Export → CSV",
            parse=lambda data, subject="": parse_csv(data, subject=subject),
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a .nessus XML report (Nessus and Nessus WAS)."""
    root = load_xml(data, "Nessus", "NessusClientData_v2")
    report = ParsedReport()
    for host in root.iter("ReportHost"):
        tags = {tag.get("name", ""): (tag.text or "").strip() for tag in host.iter("tag")}
        name = host.get("name") or tags.get("host-fqdn") or tags.get("host-ip") or ""
        for item in host.iter("ReportItem"):
            report.findings.append(_xml_finding(item, name, tags, report))
    return report


def _place(host: str, port: Any, proto: Any, report: ParsedReport) -> tuple[str, str]:
    """(location, item) of a finding on host:port; records the host and service as assets."""
    host = host.strip()
    try:
        url = canonical_url(host) if host.startswith(("http://", "https://")) else ""
    except ValueError:
        url = ""
    if url:  # Nessus WAS names the web application
        report.assets.append(Item("url", url))
        return url, url
    try:
        number = int(str(port or "0"))
    except ValueError:
        number = 0
    transport = str(proto or "tcp").lower()
    if not host:
        return "", ""
    report.assets.append(Item("host", host))
    if 0 < number < 65536 and transport in ("tcp", "udp"):
        service = Item.service(host, number, transport)
        report.assets.append(service)
        return service.value, service.value
    return host, host


def _xml_finding(
    item: Element, host: str, tags: dict[str, str], report: ParsedReport
) -> FindingData:
    location, subject = _place(host, item.get("port"), item.get("protocol"), report)
    cves = [c.text or "" for c in item.iter("cve")]
    cwes = [c.text or "" for c in item.iter("cwe")]
    finding = FindingData(
        tool=TOOL,
        severity=LEVELS.get(item.get("severity") or "0", "info"),
        title=text(item.get("pluginName") or xml_text(item, "plugin_name"), 500),
        rule_id=str(item.get("pluginID") or ""),
        description="\n\n".join(
            filter(None, (xml_text(item, "synopsis"), xml_text(item, "description")))
        ),
        remediation=xml_text(item, "solution"),
        location=location,
        item=subject,
        evidence={
            key: value
            for key, value in {
                "plugin_family": item.get("pluginFamily") or "",
                "service": item.get("svc_name") or "",
                "plugin_output": xml_text(item, "plugin_output", EVIDENCE_MAX),
                "risk_factor": xml_text(item, "risk_factor"),
                "exploit_available": xml_text(item, "exploit_available"),
                "address": tags.get("host-ip", ""),
                "os": tags.get("operating-system", ""),
            }.items()
            if value
        },
        references=urls_in(xml_text(item, "see_also")),
        cwe_ids=cwe_ids(cwes),
        vuln_ids=vuln_ids_in(cves),
        epss_score=probability(xml_text(item, "epss_score")),
    )
    vectors = [xml_text(item, "cvss4_vector"), xml_text(item, "cvss3_vector")]
    cvss_fill(finding, [v if v.startswith("CVSS:") or not v else f"CVSS:3.0/{v}" for v in vectors])
    if finding.cvss_v3_score is None:
        finding.cvss_v3_score = score_or_none(xml_text(item, "cvss3_base_score"))
    return finding


@bulk_parser
def parse_csv(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a Nessus, Nessus WAS, Tenable.sc or Tenable VM CSV export."""
    delimiter = _dialect(data)
    if not delimiter:
        raise ValueError("not a Nessus report: the CSV has none of Nessus' column sets")
    rows = csv_rows(data, TOOL, delimiter)
    report = ParsedReport()
    merged: dict[tuple[str, str, str, str], FindingData] = {}
    for row in rows:
        value = _reader(row)
        plugin, host = value("plugin"), value("host")
        if not plugin and not host:
            continue  # a blank line at the end of an export
        key = (plugin, host, value("port"), value("protocol").lower())
        cves = vuln_ids_in(value("cve").replace(",", " ").split())
        if key in merged:  # one row per CVE: the same finding with one more CVE
            merged[key].vuln_ids = list(dict.fromkeys([*merged[key].vuln_ids, *cves]))
            continue
        location, item = _place(host, value("port"), value("protocol"), report)
        finding = FindingData(
            tool=TOOL,
            severity=named_severity("info" if value("risk").lower() == "none" else value("risk")),
            title=text(value("name"), 500),
            rule_id=plugin,
            description="\n\n".join(filter(None, (value("synopsis"), value("description")))),
            remediation=text(value("solution")),
            location=location,
            item=subject or item,
            evidence={"plugin_output": text(value("output"), EVIDENCE_MAX)}
            if value("output")
            else {},
            references=urls_in(value("see_also")),
            cwe_ids=cwe_ids(value("cwe").replace(",", " ").split()),
            vuln_ids=cves,
        )
        vector = value("cvss3_vector")
        if vector:
            cvss_fill(finding, [vector if vector.startswith("CVSS:") else f"CVSS:3.0/{vector}"])
        if finding.cvss_v3_score is None:
            finding.cvss_v3_score = score_or_none(value("cvss3_score"))
        merged[key] = finding
    report.findings = list(merged.values())
    return report


def _reader(row: dict[str, str]) -> Any:
    def value(field: str) -> str:
        for column in COLUMNS[field]:
            if row.get(column):
                return str(row[column]).strip()
        return ""

    return value
