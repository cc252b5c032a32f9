"""Nikto: web server checks (https://github.com/sullo/nikto). Imported only.

Reads the XML output (`-Format xml`, nikto 2.1.5 to 2.5: `<niktoscan>`, possibly nested in a
second `<niktoscan>`, with a `<scandetails>` per target holding `<item>`s) and the JSON output
(`-Format json`: a list of `{host, ip, port, banner, vulnerabilities: [{id, method, url, msg,
references}]}`, or one such object). `<niktoscan>` without targets or items is a clean run.

One finding per item: rule id = the nikto test id, title = the message, location = the URL it
was found at (`namelink`, else the site and `uri`), component = the message (one test id reports
different things at one URL: "Uncommon header 'x-cache'", "… 'x-cacheable'"). Nikto gives no
severity: every finding is low (headers, files and defaults worth a look, not proven
vulnerabilities). OSVDB links and references are kept; the target URLs are recorded in the
inventory with the server banner.
"""

from __future__ import annotations

import re

from scans.engine.runtime import FindingData
from scans.tools.kit.detect import has_keys, json_document, xml_root
from scans.tools.kit.reports import (
    ParsedReport,
    as_list,
    bulk_parser,
    load_json,
    load_xml,
    text,
    urls_in,
    xml_text,
)
from scans.tools.kit.tool import ReportFormat, Tool
from scans.tools.kit.values import url_or_blank
from targets.items import Item

TOOL = "nikto"
_DIGITS = re.compile(r"\b\d{6,}\b")


def _is_nikto_xml(data: bytes) -> bool:
    return xml_root(data) == "niktoscan"


def _is_nikto_json(data: bytes) -> bool:
    document = json_document(data)
    first = document[0] if isinstance(document, list) and document else document
    return has_keys(first, "host", "vulnerabilities") and ("port" in first or "ip" in first)


NODE = Tool(
    type=TOOL,
    label="Nikto",
    group="Scan",
    icon="crosshair",
    help="Web server issues from Nikto reports (XML, JSON).",
    order=54,
    imports_only=True,
    sarif_uri="https://github.com/sullo/nikto",
    formats=(
        ReportFormat(
            name="nikto-xml",
            label="Nikto XML",
            detect=_is_nikto_xml,
            command="nikto -h https://example.com -Format xml -output nikto.xml",
        ),
        ReportFormat(
            name="nikto-json",
            label="Nikto JSON",
            detect=_is_nikto_json,
            command="nikto -h https://example.com -Format json -output nikto.json",
            parse=lambda data, subject="": parse_json(data, subject=subject),
        ),
    ),
)


def _finding(
    test: str, message: str, url: str, method: str, refs: list[str], subject: str
) -> FindingData:
    return FindingData(
        tool=TOOL,
        severity="low",
        title=text(message, 500) or f"Nikto test {test}",
        rule_id=test,
        description=text(message),
        component=_DIGITS.sub("N", text(message, 200)),
        location=url,
        item=url if url.startswith(("http://", "https://")) else subject,
        evidence={"method": method} if method else {},
        references=refs,
        tags=["web"],
    )


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from nikto's XML output."""
    root = load_xml(data, "Nikto", "niktoscan")
    report = ParsedReport()
    for details in root.iter("scandetails"):
        site = url_or_blank(details.get("sitename") or "")
        if site:
            banner = details.get("targetbanner") or ""
            report.assets.append(Item("url", site, {"server": banner} if banner else {}))
        for item in details.iter("item"):
            url = url_or_blank(xml_text(item, "namelink"))
            if not url and site:
                url = url_or_blank(site.rstrip("/") + "/" + xml_text(item, "uri").lstrip("/"))
            refs = urls_in(xml_text(item, "references")) + [
                link
                for link in [item.get("osvdblink") or ""]
                if link.startswith("http") and not link.endswith("/0")
            ]
            report.findings.append(
                _finding(
                    item.get("id") or "",
                    xml_text(item, "description"),
                    url or xml_text(item, "uri"),
                    item.get("method") or "",
                    refs,
                    subject,
                )
            )
    return report


@bulk_parser
def parse_json(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from nikto's JSON output."""
    document = load_json(data, "Nikto")
    report = ParsedReport()
    for target in as_list(document):
        if not isinstance(target, dict):
            raise ValueError("not a Nikto report: a target is not an object")
        host, port = (
            str(target.get("host") or target.get("ip") or ""),
            str(target.get("port") or ""),
        )
        scheme = "https" if port == "443" else "http"
        base = (
            url_or_blank(f"{scheme}://{host}:{port}/" if port else f"{scheme}://{host}/")
            if host
            else ""
        )
        if base:
            banner = str(target.get("banner") or "")
            report.assets.append(Item("url", base, {"server": banner} if banner else {}))
        for vuln in as_list(target.get("vulnerabilities")):
            if not isinstance(vuln, dict):
                raise ValueError("not a Nikto report: a vulnerability is not an object")
            path = str(vuln.get("url") or "/")
            url = url_or_blank(base.rstrip("/") + "/" + path.lstrip("/")) if base else path
            report.findings.append(
                _finding(
                    str(vuln.get("id") or ""),
                    str(vuln.get("msg") or ""),
                    url or path,
                    str(vuln.get("method") or ""),
                    urls_in(vuln.get("references")),
                    subject,
                )
            )
    return report
