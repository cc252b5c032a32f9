"""httpx (ProjectDiscovery): HTTP probing (https://github.com/projectdiscovery/httpx). Imported
only.

Reads `httpx -json` (JSON Lines, one probe per line: `url`, `status_code` (`status-code` in 1.0),
`title`, `webserver`, `content_type`, `content_length`, `tech`, `words`, `lines`, `a` (addresses),
`tls` (`tls-grab`), `favicon`(`favicon-mmh3`), `final_url`, `failed`); an empty file is a clean run.
Every probe that got an answer becomes a `url` item with the inventory's URL attrs (status,
title, server, content type and length, technologies, favicon hash, redirect target, TLS,
address) and an `info` finding `http-service` naming the server and technologies; failed probes
(`"failed": true`) are left out.
"""

from __future__ import annotations

from typing import Any

from scans.tools.kit.detect import first_json_line, has_any_key, has_keys
from scans.tools.kit.discovery import int_or_none, url_found
from scans.tools.kit.reports import (
    ParsedReport,
    as_dict,
    as_list,
    bulk_parser,
    load_json_lines,
    text,
)
from scans.tools.kit.tool import ReportFormat, Tool

TOOL = "httpx"


def _is_httpx_json(data: bytes) -> bool:
    record = first_json_line(data)
    return has_keys(record, "url", "input") and has_any_key(
        record, "status_code", "status-code", "failed"
    )


NODE = Tool(
    type=TOOL,
    label="httpx",
    group="Probe",
    icon="http",
    help="Live web services from httpx reports (-json).",
    order=63,
    imports_only=True,
    sarif_uri="https://github.com/projectdiscovery/httpx",
    formats=(
        ReportFormat(
            name="httpx-json",
            label="httpx JSON Lines (-json)",
            detect=_is_httpx_json,
            command="httpx -l hosts.txt -json -o httpx.json",
            empty=("blank",),
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Probed URLs from httpx's JSON Lines."""
    report = ParsedReport()
    for record in load_json_lines(data, "httpx"):
        if not isinstance(record, dict) or "url" not in record:
            raise ValueError("not an httpx report: a record has no url")
        if record.get("failed") is True:
            continue
        _add(report, record)
    return report


def _add(report: ParsedReport, record: dict[str, Any]) -> None:
    status = int_or_none(record.get("status_code", record.get("status-code")))
    tech = [str(t) for t in as_list(record.get("tech") or record.get("technologies"))]
    server = str(record.get("webserver") or "")
    addresses = [str(a) for a in as_list(record.get("a"))]
    found = url_found(
        TOOL,
        record["url"],
        rule_id="http-service",
        title="",
        status=status,
        server=server,
        content_type=str(record.get("content_type") or record.get("content-type") or ""),
        content_length=int_or_none(record.get("content_length", record.get("content-length"))),
        words=int_or_none(record.get("words")),
        lines=int_or_none(record.get("lines")),
        technologies=tech,
        favicon_hash=str(record.get("favicon") or record.get("favicon-mmh3") or ""),
        redirect_to=str(record.get("final_url") or record.get("location") or ""),
        tls=bool(record.get("tls") or record.get("tls-grab")) or None,
        address=addresses[0] if addresses else "",
    )
    if found is None:
        raise ValueError(f"not an httpx report: {str(record['url'])[:100]!r} is not a URL")
    item, finding = found
    title = text(record.get("title"), 500)
    if title:
        item.attrs["title"] = title
    if isinstance(item.attrs.get("tls"), dict) or as_dict(record.get("tls")):
        item.attrs["tls"] = True
    shown = ", ".join(tech) or server or "unknown server"
    finding.title = f"HTTP {status} at {item.value} ({shown})"[:500]
    finding.description = (
        f"httpx probed {item.value}: HTTP {status}, {title or 'no title'}, {shown}."
    )
    report.items.append(item)
    report.findings.append(finding)
