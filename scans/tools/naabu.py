"""naabu: fast port discovery (https://github.com/projectdiscovery/naabu). Imported only.

Reads `naabu -json` (JSON Lines, one `{"host"?, "ip", "port", "protocol", "tls"}` per open port;
naabu 1.x wrote `"port": {"Port": 80, "Protocol": 0, "TLS": false}`); an empty file is a clean
run. Every open port becomes a `service` item (host = the name naabu was given when there is
one, else the address; attrs `address`, `tls`) and an `info` finding `open-port`, like masscan's
and nmap's.
"""

from __future__ import annotations

from typing import Any

from scans.tools.kit.detect import first_json_line, has_keys
from scans.tools.kit.discovery import port_found
from scans.tools.kit.reports import ParsedReport, as_dict, bulk_parser, load_json_lines
from scans.tools.kit.tool import ReportFormat, Tool

TOOL = "naabu"


def _is_naabu_json(data: bytes) -> bool:
    record = first_json_line(data)
    return (
        has_keys(record, "ip", "port")
        and ("protocol" in record or isinstance(record["port"], dict))
        and "rec_type" not in record
    )


NODE = Tool(
    type=TOOL,
    label="naabu",
    group="Discover",
    icon="radar",
    help="Open ports from naabu reports (-json).",
    order=41,
    imports_only=True,
    sarif_uri="https://github.com/projectdiscovery/naabu",
    formats=(
        ReportFormat(
            name="naabu-json",
            label="naabu JSON Lines (-json)",
            detect=_is_naabu_json,
            command="naabu -host example.com -json -o naabu.json",
            empty=("blank",),
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Open ports from naabu's JSON Lines."""
    report = ParsedReport()
    for record in load_json_lines(data, "naabu"):
        if not has_keys(record, "ip", "port"):
            raise ValueError("not a naabu report: a record has no ip and port")
        _add(report, record)
    report.items = list({item.value: item for item in report.items}.values())
    return report


def _add(report: ParsedReport, record: dict[str, Any]) -> None:
    port: Any = record["port"]
    proto: Any = record.get("protocol") or "tcp"
    tls = record.get("tls")
    if isinstance(port, dict):  # naabu 1.x
        nested = as_dict(port)
        port, tls = nested.get("Port"), nested.get("TLS", tls)
        proto = "udp" if nested.get("Protocol") == 1 else "tcp"
    address = str(record["ip"])
    host = str(record.get("host") or address)
    try:
        item, finding = port_found(TOOL, host, port, proto, address=address, tls=bool(tls) or None)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a naabu report: {exc}") from None
    report.items.append(item)
    report.findings.append(finding)
