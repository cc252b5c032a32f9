"""OWASP ZAP: dynamic web application scanning (https://www.zaproxy.org). Imported only.

Reads the XML report (`-x`, `OWASPZAPReport`, ZAP 2.7 to 2.14, and the "XML plus" template
with request and response per instance) and the JSON report (`-J`, the same tree: `site` →
`alerts` → `instances`). One finding per alert and URL it was seen at (the instances of an
alert at one URL with several parameters are one finding, counted as occurrences): rule id =
`pluginid` (the ZAP rule), title = `name`, severity from `riskcode` (3 high, 2 medium, 1 low,
0 info), CWE from `cweid`, WASC id and confidence in the evidence, description / solution /
other info as text (ZAP writes HTML), references = the URLs in `reference`; the instance's
method, parameter, attack and evidence, and the request and response when the report carries
them (4 KiB each). Alerts ZAP marks as false positives (`confidence` 0) are left out. Every URL
is recorded in the inventory.
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import FindingData
from scans.engine.vulns import cwe_ids
from scans.tools.kit.detect import has_keys, json_document, xml_root
from scans.tools.kit.reports import (
    EVIDENCE_MAX,
    ParsedReport,
    as_list,
    bulk_parser,
    html_text,
    load_json,
    load_xml,
    text,
    urls_in,
)
from scans.tools.kit.tool import ReportFormat, Tool
from scans.tools.kit.values import url_or_blank
from targets.items import Item

TOOL = "zap"
RISK = {"3": "high", "2": "medium", "1": "low", "0": "info"}
_INSTANCE_FIELDS = ("uri", "method", "param", "attack", "evidence", "otherinfo")
_EXCHANGE_FIELDS = ("requestheader", "requestbody", "responseheader", "responsebody")


def _is_zap_xml(data: bytes) -> bool:
    return xml_root(data) == "OWASPZAPReport"


def _is_zap_json(data: bytes) -> bool:
    document = json_document(data)
    return has_keys(document, "site") and ("@version" in document or "@programName" in document)


NODE = Tool(
    type=TOOL,
    label="OWASP ZAP",
    group="Scan",
    icon="crosshair",
    help="Web application alerts from OWASP ZAP reports (XML, JSON).",
    order=50,
    imports_only=True,
    sarif_uri="https://www.zaproxy.org",
    formats=(
        ReportFormat(
            name="zap-xml",
            label="ZAP XML report",
            detect=_is_zap_xml,
            command="zap-baseline.py -t https://example.com -x zap.xml",
        ),
        ReportFormat(
            name="zap-json",
            label="ZAP JSON report",
            detect=_is_zap_json,
            command="zap-baseline.py -t https://example.com -J zap.json",
            parse=lambda data, subject="": parse_json(data, subject=subject),
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a ZAP XML report."""
    root = load_xml(data, "ZAP", "OWASPZAPReport")
    alerts = []
    for site in root.iter("site"):
        for item in site.iter("alertitem"):
            alert: dict[str, Any] = {child.tag: (child.text or "") for child in item}
            alert["instances"] = [
                {child.tag: (child.text or "") for child in instance}
                for instance in item.iter("instance")
            ]
            alerts.append((site.get("name") or "", alert))
    return _report(alerts, subject)


@bulk_parser
def parse_json(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a ZAP JSON report."""
    document = load_json(data, "ZAP")
    alerts = []
    for site in as_list(document.get("site") if isinstance(document, dict) else None):
        if not isinstance(site, dict):
            raise ValueError("not a ZAP report: a site is not an object")
        for alert in as_list(site.get("alerts")):
            if isinstance(alert, dict):
                alerts.append((str(site.get("@name") or ""), alert))
    return _report(alerts, subject)


def _report(alerts: list[tuple[str, dict[str, Any]]], subject: str) -> ParsedReport:
    report = ParsedReport()
    urls: dict[str, Item] = {}
    for site, alert in alerts:
        if str(alert.get("confidence") or "").strip() == "0":
            continue  # ZAP's "false positive"
        instances = [i for i in as_list(alert.get("instances")) if isinstance(i, dict)]
        for instance in instances or [{"uri": site}]:
            finding = _finding(alert, instance, site, subject)
            if finding.item.startswith(("http://", "https://")):
                urls.setdefault(finding.item, Item("url", finding.item))
            report.findings.append(finding)
    report.assets.extend(urls.values())
    return report


def _finding(
    alert: dict[str, Any], instance: dict[str, Any], site: str, subject: str
) -> FindingData:
    uri = str(instance.get("uri") or site or "").strip()
    url = url_or_blank(uri)
    risk = str(alert.get("riskcode") or "0").strip()
    rule = str(alert.get("pluginid") or alert.get("alertRef") or "").strip()
    evidence = {key: text(instance.get(key), EVIDENCE_MAX) for key in _INSTANCE_FIELDS}
    evidence.update(
        {
            key: text(instance.get(key), EVIDENCE_MAX)
            for key in _EXCHANGE_FIELDS
            if instance.get(key)
        }
    )
    evidence["confidence"] = str(alert.get("confidence") or "")
    evidence["wasc_id"] = str(alert.get("wascid") or "")
    return FindingData(
        tool=TOOL,
        severity=RISK.get(risk, "info"),
        title=text(alert.get("name") or alert.get("alert") or rule, 500),
        rule_id=rule,
        description=html_text(alert.get("desc"))
        + (f"\n\n{html_text(alert.get('otherinfo'))}" if alert.get("otherinfo") else ""),
        remediation=html_text(alert.get("solution")),
        location=url or uri,
        item=url or subject,
        evidence={k: v for k, v in evidence.items() if v},
        references=urls_in(alert.get("reference")),
        tags=["web"],
        cwe_ids=cwe_ids(
            [alert.get("cweid")] if str(alert.get("cweid") or "") not in ("", "-1", "0") else []
        ),
    )
