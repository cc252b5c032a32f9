"""masscan: asynchronous port discovery (https://github.com/robertdavidgraham/masscan).

Runs in a container: `masscan -p PORTS --rate N --wait S -oJ /output/masscan-N.json
[--adapter lo --adapter-ip 127.0.0.1 --adapter-mac M --router-mac M] --range NET …`, one command
for all the step's addresses (collapsed into as few prefixes as cover exactly them: masscan is
for wide ranges), argument list only. Targets are re-parsed: only IPv4 addresses reach masscan
(`--range`, never a bare argument); masscan does not resolve names, so a name is scanned through
the addresses the step's items already resolved it to (`resolved_from`, from dns_resolve) and
otherwise refused in the log, as are IPv6 addresses (masscan needs the adapter's own IPv6
address and router for them; nmap scans them). Loopback addresses get a command of their own
through the `lo` adapter (masscan otherwise sends through the default route's adapter, which
never carries 127.0.0.0/8). On Linux that finds nothing listening on this machine itself: lo
delivers a frame to the kernel's TCP stack only when it is addressed to lo's all-zero MAC, and
masscan refuses a zero router MAC (a zero is "not found" to it), so the kernel drops its SYNs as
meant for another host (masscan issue #129); the step log says so. Only a frame-level responder
on lo (the test's) answers there; use port_scan or nmap for the worker's own ports.

The rate (packets/s) is the node's `rate_pps`, else `MASSCAN_RATE_PPS`, never above
`MASSCAN_MAX_RATE_PPS` (the operator's cap: a fast scan floods links and trips alarms).
masscan writes its own packets, so its container is granted CAP_NET_RAW (`capabilities` below,
the only tool with any) and cannot be fenced by the per-step network sandbox
(scans.engine.sandbox.enforcement).

Reads the three output formats masscan writes:
- `-oJ` JSON: a list of `{"ip", "timestamp", "ports": [{"port", "proto", "status", "reason",
  "ttl", "service"?}]}` records (masscan 1.0 to 1.3; some versions leave a trailing comma before
  the closing bracket, which is accepted). An empty list or an empty file is a clean run.
- `-oD` NDJSON: one `{"ip", "port", "proto", "rec_type", "data"}` record per line.
- `-oL` list: `#masscan` then `open tcp 80 10.0.0.1 1700000000` lines, `# end`.

Every open port becomes a `service` item (host = the address masscan reports, attrs: `service`
and `banner` when masscan grabbed one) and an `info` finding `open-port` located at the service
(severity always info, like nmap's), so a scan shows what is open and a scan diff what opened or
closed. Closed ports (`status` other than "open") are skipped.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django.conf import settings

from scans.engine.runtime import Command
from scans.tools import tool_image
from scans.tools.kit import fields
from scans.tools.kit.arguments import host_argument, item_arguments
from scans.tools.kit.detect import first_json_line, has_keys, json_document, text_lines
from scans.tools.kit.discovery import port_found
from scans.tools.kit.invoke import Plan, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.port_spec import parse_port_spec, port_ranges, ports_field
from scans.tools.kit.reports import ParsedReport, bulk_parser, load_json_lines
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from scans.tools.kit.values import is_ip_literal
from targets.items import Item

TOOL = "masscan"
ACCEPTS = {"host"}
EMITS = {"service"}
# Loopback addresses go out through `lo`, whose MAC is all zeros; masscan refuses a zero router
# MAC (it takes it for "not found" and ARPs, which lo cannot answer), so its frames carry these
# locally administered ones instead.
LOOPBACK_ADAPTER_MAC = "02-00-00-00-00-02"
LOOPBACK_ROUTER_MAC = "02-00-00-00-00-01"
LOOPBACK_ADAPTER = [
    "--adapter", "lo", "--adapter-ip", "127.0.0.1",
    "--adapter-mac", LOOPBACK_ADAPTER_MAC, "--router-mac", LOOPBACK_ROUTER_MAC,
]  # fmt: skip
LOOPBACK_NOTE = (
    "loopback addresses: masscan's frames on lo are not addressed to lo's all-zero MAC, so this "
    "machine's own TCP stack drops them (PACKET_OTHERHOST) and its listeners are never seen; "
    "only a frame-level responder on lo answers. Scan this machine's own ports with port_scan or "
    "nmap"
)
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
    help="Fast port discovery over wide address ranges with masscan, in a sandboxed container.",
    order=40,
    # No image from the masscan project itself: a community build, pin it by digest or point
    # TOOL_IMAGE_MASSCAN at your own.
    image="ilyaglow/masscan:latest",
    network="bridge",
    capabilities=("NET_RAW",),
    sarif_uri="https://github.com/robertdavidgraham/masscan",
    # Debian's masscan opens libpcap with dlopen() (ldd does not list it).
    test_image=TestImage(
        name="outpost-test/masscan:1",
        entrypoint=("/usr/bin/masscan",),
        binaries=("masscan",),
        libraries=("/usr/lib/x86_64-linux-gnu/libpcap.so.0.8",),
        files=("/etc/protocols", "/etc/services"),
    ),
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


CONFIG_FIELDS: list[ConfigField] = [
    ports_field("top-1000", "top-100, top-1000, all, or a list such as 22,80,8000-8100"),
    fields.integer("rate_pps", 0, 0, 10_000_000, "Packets per second (0: the operator's MASSCAN_RATE_PPS; capped by MASSCAN_MAX_RATE_PPS)"),
    fields.integer("wait_s", 3, 0, 60, "Seconds to wait for late answers after the last packet (--wait)"),
    timeout_field(),
]  # fmt: skip


def rate_pps(requested: int) -> int:
    """The rate a scan runs at: the node's, else the operator's default, never above the cap."""
    wanted = requested or int(settings.MASSCAN_RATE_PPS)
    return max(1, min(wanted, int(settings.MASSCAN_MAX_RATE_PPS)))


def _addresses(items: list[Item]) -> tuple[list[ipaddress.IPv4Address], list[str]]:
    """The IPv4 addresses to scan (a name through the addresses the step's items resolved it
    to), and the log lines of what was refused."""
    resolved: dict[str, list[str]] = {}
    for item in items:
        origin = item.attrs.get("resolved_from") if item.kind == "host" else None
        if isinstance(origin, str) and is_ip_literal(item.value):
            resolved.setdefault(origin.lower(), []).append(item.value)
    addresses: dict[ipaddress.IPv4Address, None] = {}
    hosts, refused = item_arguments(items, "host", host_argument)
    for host in hosts:
        if not is_ip_literal(host):
            if resolved.get(host.lower()):
                continue  # its addresses are items of this step: scanned as themselves
            refused.append(
                f"{host!r} not scanned: masscan does not resolve names and no item of this step "
                "gives its address (put dns_resolve before masscan)"
            )
            continue
        address = ipaddress.ip_address(host.strip("[]"))
        if not isinstance(address, ipaddress.IPv4Address):
            refused.append(f"{host!r} not scanned: masscan scans IPv4 addresses here (use nmap)")
            continue
        addresses.setdefault(address)
    return list(addresses), refused


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One masscan for the loopback addresses, one for the others."""
    options = validate_config(config, CONFIG_FIELDS)
    addresses, refused = _addresses(items)
    rate = rate_pps(options["rate_pps"])
    if options["rate_pps"] > rate:
        refused.append(f"rate {options['rate_pps']} pps capped at MASSCAN_MAX_RATE_PPS ({rate})")
    base = ["masscan", "-p", port_ranges(parse_port_spec(options["ports"]))]
    base += ["--rate", str(rate), "--wait", str(options["wait_s"])]
    groups = [[a for a in addresses if a.is_loopback], [a for a in addresses if not a.is_loopback]]
    plans: list[Plan] = []
    for group in (g for g in groups if g):
        output = f"masscan-{len(plans) + 1}.json"
        argv = [*base, "-oJ", f"/output/{output}"]
        if group[0].is_loopback:
            argv += LOOPBACK_ADAPTER
            refused.append(LOOPBACK_NOTE)
        for network in ipaddress.collapse_addresses(ipaddress.IPv4Network(a) for a in group):
            argv += [
                "--range",
                str(network.network_address if network.prefixlen == 32 else network),
            ]
        plans.append(Plan(Command(argv, tool_image(TOOL)), output=output))
    return plans, refused


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Open ports from a masscan JSON, NDJSON or list report."""
    report = ParsedReport()
    if not data.strip():
        return report
    if _is_masscan_list(data):
        for line in data.decode("utf-8", errors="replace").splitlines():
            columns = line.split()
            if len(columns) >= 4 and columns[0] == "open" and columns[2].isdigit():
                _add(report, columns[3], columns[2], columns[1], {})
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


commands, run = planned_runner(TOOL, _plans, parse)
