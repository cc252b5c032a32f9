"""Burp Suite: web application findings (https://portswigger.net/burp), from the XML issue
export (Professional and Enterprise: "Report selected issues" → XML, `<issues burpVersion>`).
Imported only.

One finding per issue: rule id = the issue `type` (Burp's numeric issue type id), title =
`name`, severity from `severity` (High, Medium, Low, Information → info; "False positive" issues
are left out), location = `host` + `path` as a URL, CWE ids from `vulnerabilityClassifications`,
references = the links in `references`, description = `issueDetail` then `issueBackground`,
remediation = `remediationDetail` then `remediationBackground` (Burp writes HTML: kept as
text), evidence = confidence, the host's address, the location, and the first request and
response (base64-decoded when Burp encoded them; 4 KiB each). The URLs are recorded in the
inventory. Burp's DOCTYPE declares elements only; a report declaring entities is refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from xml.etree.ElementTree import Element

from scans.engine.runtime import FindingData
from scans.tools.kit.detect import xml_root
from scans.tools.kit.reports import (
    EVIDENCE_MAX,
    ParsedReport,
    bulk_parser,
    html_text,
    load_xml,
    named_severity,
    text,
    urls_in,
    xml_text,
)
from scans.tools.kit.tool import ReportFormat, Tool
from scans.tools.kit.values import canonical_url
from targets.items import Item

TOOL = "burp"
_CWE = re.compile(r"CWE-(\d{1,5})", re.IGNORECASE)


def _is_burp_xml(data: bytes) -> bool:
    return xml_root(data) == "issues" and b"burpVersion" in data[:65536]


NODE = Tool(
    type=TOOL,
    label="Burp Suite",
    group="Scan",
    icon="crosshair",
    help="Web application issues from Burp Suite XML exports.",
    order=51,
    imports_only=True,
    sarif_uri="https://portswigger.net/burp",
    formats=(
        ReportFormat(
            name="burp-xml",
            label="Burp Suite XML issues",
            detect=_is_burp_xml,
            command="Burp: Target → Issues → Report selected issues → XML",
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a Burp Suite XML issue export."""
    root = load_xml(data, "Burp Suite", "issues")
    report = ParsedReport()
    urls: dict[str, Item] = {}
    for issue in root.iter("issue"):
        severity = xml_text(issue, "severity").lower()
        if severity.startswith("false"):
            continue
        finding = _finding(issue, subject)
        if finding.item.startswith(("http://", "https://")):
            urls.setdefault(finding.item, Item("url", finding.item))
        report.findings.append(finding)
    report.assets.extend(urls.values())
    return report


def _exchange(element: Element | None) -> str:
    if element is None or not (element.text or "").strip():
        return ""
    raw = element.text or ""
    if element.get("base64") == "true":
        try:
            raw = base64.b64decode(raw, validate=False).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return ""
    return text(raw, EVIDENCE_MAX)


def _finding(issue: Element, subject: str) -> FindingData:
    host = issue.find("host")
    base = xml_text(issue, "host")
    path = xml_text(issue, "path")
    try:
        url = canonical_url(base.rstrip("/") + "/" + path.lstrip("/")) if base else ""
    except ValueError:
        url = ""
    exchange = issue.find("requestresponse")
    classifications = xml_text(issue, "vulnerabilityClassifications")
    return FindingData(
        tool=TOOL,
        severity=named_severity(xml_text(issue, "severity")),
        title=text(xml_text(issue, "name"), 500),
        rule_id=xml_text(issue, "type"),
        description="\n\n".join(
            filter(
                None,
                (
                    html_text(xml_text(issue, "issueDetail")),
                    html_text(xml_text(issue, "issueBackground")),
                ),
            )
        ),
        remediation="\n\n".join(
            filter(
                None,
                (
                    html_text(xml_text(issue, "remediationDetail")),
                    html_text(xml_text(issue, "remediationBackground")),
                ),
            )
        ),
        location=url or f"{base}{path}",
        item=url or subject,
        evidence={
            key: value
            for key, value in {
                "confidence": xml_text(issue, "confidence"),
                "address": host.get("ip", "") if host is not None else "",
                "location": xml_text(issue, "location", 2000),
                "serial_number": xml_text(issue, "serialNumber"),
                "request": _exchange(exchange.find("request") if exchange is not None else None),
                "response": _exchange(exchange.find("response") if exchange is not None else None),
            }.items()
            if value
        },
        references=urls_in(xml_text(issue, "references")),
        tags=["web"],
        cwe_ids=[f"CWE-{number}" for number in dict.fromkeys(_CWE.findall(classifications))],
    )
