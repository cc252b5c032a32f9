"""masscan: asynchronous port discovery (https://github.com/robertdavidgraham/masscan).

Outpost reads its reports; running it is for a later runner (imports_only until then).

Reads the three output formats masscan writes:
- `-oJ` JSON: a list of `{"ip", "timestamp", "ports": [{"port", "proto", "status", "reason",
  "ttl", "service"?}]}` records (masscan 1.0 to 1.3; some versions leave a trailing comma before
  the closing bracket, which is accepted). An empty list or an empty file is a clean run.
- `-oD` NDJSON: one `{"ip", "port", "proto", "rec_type", "data"}` record per line.
- `-oL` list: `#masscan` then `open tcp 80 10.0.0.1 1700000000` lines, `# end`.

Every open port becomes a `service` item (host = the address masscan reports, attrs: `service`
and `banner` when masscan grabbed one) and an `info` finding `open-port` located at the service,
like nmap's, so an imported report shows what is open and a scan diff what opened or closed.
Closed ports (`status` other than "open") are skipped.
"""

from __future__ import annotations

import re
from typing import Any

from scans.tools.kit.detect import first_json_line, has_keys, json_document, text_lines
from scans.tools.kit.discovery import port_found
from scans.tools.kit.reports import ParsedReport, bulk_parser, dedupe, load_json_lines
from scans.tools.kit.tool import ReportFormat, Tool

TOOL = "masscan"
# masscan's -oJ leaves a comma before the closing bracket in several versions ("},\n]").
_TRAILING_COMMA = re.compile(rb",\s*\]\s*$")


def _json_records(data: bytes) -> Any:
    document = json_document(data)
    if document is None and _TRAILING_COMMA.search(data[-64:]):
        document = json_document(_TRAILING_COMMA.sub(b"]", data))
    return document


def _is_masscan_json(data: bytes) -> bool:
    document = _json_records(data)
    return isinstance(document, list) and bool(document) and has_keys(document[0], "ip", "ports")


def _is_masscan_ndjson(data: bytes) -> bool:
    if json_document(data) is not None and not data.strip().startswith(b"{"):
        return False
    return has_keys(first_json_line(data), "ip", "port", "rec_type")


def _is_masscan_list(data: bytes) -> bool:
    lines = text_lines(data, 1)
    return bool(lines) and lines[0].startswith("#masscan")


NODE = Tool(
    type=TOOL,
    label="masscan",
    group="Discover",
    icon="radar",
    help="Open ports from masscan reports (-oJ, -oD, -oL).",
    order=40,
    imports_only=True,
    sarif_uri="https://github.com/robertdavidgraham/masscan",
    formats=(
        ReportFormat(
            name="masscan-json",
            label="masscan JSON (-oJ)",
            detect=_is_masscan_json,
            command="masscan 10.0.0.0/24 -p1-65535 -oJ masscan.json",
            empty=("blank", "[]"),
        ),
        ReportFormat(
            name="masscan-ndjson",
            label="masscan NDJSON (-oD)",
            detect=_is_masscan_ndjson,
            command="masscan 10.0.0.0/24 -p1-65535 -oD masscan.ndjson",
            empty=("blank",),
        ),
        ReportFormat(
            name="masscan-list",
            label="masscan list (-oL)",
            detect=_is_masscan_list,
            command="masscan 10.0.0.0/24 -p1-65535 -oL masscan.txt",
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Open ports from a masscan JSON, NDJSON or list report."""
    report = ParsedReport()
    if not data.strip():
        return report
    if _is_masscan_list(data):
        for line in data.decode("utf-8", errors="replace").splitlines():
            fields = line.split()
            if len(fields) >= 4 and fields[0] == "open" and fields[2].isdigit():
                _add(report, fields[3], fields[2], fields[1], {})
        report.findings = dedupe(report.findings)
        return report
    document = _json_records(data)
    if isinstance(document, list):
        for record in document:
            if not has_keys(record, "ip", "ports"):
                raise ValueError("not a masscan report: a record has no ip and ports")
            for port in record["ports"] or []:
                if isinstance(port, dict) and port.get("status", "open") == "open":
                    _add(report, record["ip"], port.get("port"), port.get("proto"), port)
    else:
        for record in load_json_lines(data, TOOL):
            if not has_keys(record, "ip", "port"):
                raise ValueError("not a masscan report: a record has no ip and port")
            status = (record.get("data") or {}).get("status", "open")
            if record.get("rec_type", "status") in ("status", "banner") and status == "open":
                _add(
                    report,
                    record["ip"],
                    record["port"],
                    record.get("proto"),
                    record.get("data") or {},
                )
    report.findings = dedupe(report.findings)
    report.items = list({item.value: item for item in report.items}.values())
    return report


def _add(report: ParsedReport, host: Any, port: Any, proto: Any, info: dict[str, Any]) -> None:
    raw = info.get("service")
    service: dict[str, Any] = raw if isinstance(raw, dict) else {}
    try:
        item, finding = port_found(
            TOOL,
            str(host),
            port,
            proto,
            service=str(service.get("name") or ""),
            banner=str(service.get("banner") or "")[:500],
            reason=str(info.get("reason") or ""),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a masscan report: {exc}") from None
    report.items.append(item)
    report.findings.append(finding)
