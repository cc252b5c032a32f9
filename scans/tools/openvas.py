"""OpenVAS / Greenbone (GVM): network vulnerability scans (https://www.greenbone.net). Imported
only.

Reads the XML report (GVM 9 to 22: `<report format_id=…>`, or the `get_reports_response` that
wraps it, with `<results>` of `<result>`s naming an `<nvt oid>`) and the CSV report (`IP,
Hostname,Port,Port Protocol,CVSS,Severity,…,NVT Name,Summary,Specific Result,NVT OID,CVEs,…`).
One finding per NVT and host:port: rule id = the NVT OID, title = its name, severity from the
threat (Critical/High/Medium/Low; Log and Debug → info; "False Positive" results left out), else
from the CVSS score; CVE ids and reference URLs from the NVT's refs (CSV: `CVEs`, `Other
References`), the CVSS v3 vector when GVM gives one (`<severities>`), summary, insight and
impact as description, the solution, and the specific result ("Installed version: …") and
quality of detection as evidence. Location: `host:port/proto`, the host alone for `general/…`
ports. Hosts and services are recorded in the inventory.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from scans.engine.runtime import FindingData
from scans.engine.vulns import cvss_fill, score_or_none, vuln_ids_in
from scans.tools.kit.detect import csv_header, xml_root
from scans.tools.kit.reports import (
    EVIDENCE_MAX,
    ParsedReport,
    bulk_parser,
    csv_rows,
    cvss_severity,
    load_xml,
    named_severity,
    text,
    urls_in,
    xml_text,
)
from scans.tools.kit.tool import ReportFormat, Tool
from targets.items import Item

TOOL = "openvas"
_CSV_COLUMNS = {"ip", "port", "port protocol", "severity", "nvt name", "nvt oid"}


def _is_openvas_xml(data: bytes) -> bool:
    root = xml_root(data)
    head = data[:65536]
    if root == "get_reports_response":
        return True
    return (
        root == "report"
        and b"format_id=" in head[:2048]
        and (b"<results" in data or b"<nvt" in head)
    )


def _is_openvas_csv(data: bytes) -> bool:
    return set(csv_header(data)) >= _CSV_COLUMNS


NODE = Tool(
    type=TOOL,
    label="OpenVAS / Greenbone",
    group="Scan",
    icon="radar",
    help="Vulnerabilities from OpenVAS / Greenbone reports (XML, CSV).",
    order=53,
    imports_only=True,
    sarif_uri="https://www.greenbone.net",
    formats=(
        ReportFormat(
            name="openvas-xml",
            label="OpenVAS / GVM XML report",
            detect=_is_openvas_xml,
            command='gvm-cli … --xml \'<get_reports report_id="ID" details="1"/>\' > openvas.xml',
        ),
        ReportFormat(
            name="openvas-csv",
            label="OpenVAS / GVM CSV report",
            detect=_is_openvas_csv,
            command="Greenbone: Reports → Download → CSV Results",
            parse=lambda data, subject="": parse_csv(data, subject=subject),
        ),
    ),
)


def _severity(threat: str, score: Any) -> str | None:
    """Ours, or None for a result GVM marks a false positive."""
    word = threat.strip().lower()
    if word.startswith("false"):
        return None
    if word in ("log", "debug"):
        return "info"
    if word in ("critical", "high", "medium", "low"):
        return named_severity(word)
    value = score_or_none(score)
    return cvss_severity(value) if value is not None else "info"


def _place(host: str, port: str, report: ParsedReport) -> str:
    number, _, proto = port.partition("/")
    host = host.strip()
    if not host:
        return ""
    report.assets.append(Item("host", host))
    if number.isdigit() and 0 < int(number) < 65536 and proto in ("tcp", "udp"):
        service = Item.service(host, int(number), proto)
        report.assets.append(service)
        return service.value
    return host


def _tags(raw: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in raw.split("|"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip()] = value.strip()
    return tags


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from an OpenVAS / GVM XML report."""
    root = load_xml(data, "OpenVAS", "report", "get_reports_response")
    report = ParsedReport()
    for result in root.iter("result"):
        nvt = result.find("nvt")
        if nvt is None:
            continue
        finding = _xml_finding(result, nvt, subject, report)
        if finding is not None:
            report.findings.append(finding)
    return report


def _xml_finding(
    result: Element, nvt: Element, subject: str, report: ParsedReport
) -> FindingData | None:
    severity = _severity(xml_text(result, "threat"), xml_text(result, "severity"))
    if severity is None:
        return None
    host = result.find("host")
    location = _place(
        (host.text or "") if host is not None else "", xml_text(result, "port"), report
    )
    tags = _tags(xml_text(nvt, "tags"))
    refs = nvt.findall("refs/ref")
    finding = FindingData(
        tool=TOOL,
        severity=severity,
        title=text(xml_text(nvt, "name") or xml_text(result, "name"), 500),
        rule_id=nvt.get("oid") or "",
        description="\n\n".join(
            filter(None, (tags.get("summary"), tags.get("insight"), tags.get("impact")))
        ),
        remediation=tags.get("solution", ""),
        location=location,
        item=subject or location,
        evidence={
            key: value
            for key, value in {
                "result": xml_text(result, "description", EVIDENCE_MAX),
                "qod": xml_text(result, "qod/value"),
                "family": xml_text(nvt, "family"),
                "affected": tags.get("affected", ""),
                "solution_type": tags.get("solution_type", ""),
            }.items()
            if value
        },
        references=[r.get("id", "") for r in refs if r.get("type") == "url"],
        vuln_ids=vuln_ids_in(r.get("id", "") for r in refs if r.get("type") == "cve"),
    )
    vectors = [v.text or "" for v in nvt.iter("value") if (v.text or "").startswith("CVSS:")]
    return cvss_fill(finding, vectors)


@bulk_parser
def parse_csv(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from an OpenVAS / GVM CSV report."""
    report = ParsedReport()
    for row in csv_rows(data, TOOL):
        if not row.get("nvt oid"):
            continue
        severity = _severity(row.get("severity", ""), row.get("cvss"))
        if severity is None:
            continue
        port = f"{row.get('port', '')}/{row.get('port protocol', '')}".lower()
        location = _place(row.get("ip") or row.get("hostname") or "", port, report)
        report.findings.append(
            FindingData(
                tool=TOOL,
                severity=severity,
                title=text(row.get("nvt name"), 500),
                rule_id=row["nvt oid"],
                description="\n\n".join(
                    filter(
                        None,
                        (row.get("summary"), row.get("vulnerability insight"), row.get("impact")),
                    )
                ),
                remediation=text(row.get("solution")),
                location=location,
                item=subject or location,
                evidence={
                    key: value
                    for key, value in {
                        "result": text(row.get("specific result"), EVIDENCE_MAX),
                        "qod": row.get("qod", ""),
                        "hostname": row.get("hostname", ""),
                        "affected": text(row.get("affected software/os"), 2000),
                    }.items()
                    if value
                },
                references=urls_in(row.get("other references")),
                vuln_ids=vuln_ids_in(str(row.get("cves") or "").replace(",", " ").split()),
            )
        )
    return report
