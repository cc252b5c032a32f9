"""nmap: port and service detection (https://nmap.org), in a container.

Runs `nmap -sT` (a TCP connect scan: the sandbox runs as an unprivileged user without raw
sockets, so SYN scans are not possible) with `-sV` version detection and, when asked, the
`vulners` NSE script (which sends the detected CPEs to vulners.com: it needs network access
beyond the target). One command per host item; service items are grouped per host and scan
exactly their ports. UDP services are skipped (a UDP scan needs root).

Also reads the grepable output (`-oG`: services and open ports, no scripts). Reads `-oX` XML, `xmloutputversion` 1.04 and 1.05 (nmap 6.x to 7.9x), with defusedxml: a report
carrying entity declarations (billion laughs) or external entities is refused, not expanded.
nmap exits 0 even when every host is down; the XML's <runstats> says so, and the step log gets a
note.

What comes out:
- a `service` item per open TCP port, attrs: service (name), product, version, extrainfo,
  tunnel, cpe, address; the host is the name nmap was given when there was one (so the item stays
  in the scope that allowed the scan), else the address;
- for the inventory only (`ParsedReport.assets`): each host's address with its reverse DNS
  (PTR hostnames), and the name it was scanned by resolving to it;
- an `info` finding per open port, rule_id `open-port`, location = the service value
  (`host:port/proto`), component empty: open ports are findings so a scan diff shows a port that
  opened or closed since the previous scan and an imported nmap report is not empty;
- one finding per vulners entry: rule_id = the id (CVE-…, or an exploit-db/packetstorm id),
  severity from its CVSS score (≥ 9 critical, ≥ 7 high, ≥ 4 medium, > 0 low, else info),
  component = product (or service name), version = detected version, tagged `exploit` when vulners
  says one exists.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from scans.engine.runtime import FindingData
from scans.engine.vulns import vuln_ids_in
from scans.tools.kit import fields
from scans.tools.kit.arguments import TargetRefused, host_argument, refused_line, service_argument
from scans.tools.kit.detect import text_lines, xml_root
from scans.tools.kit.invoke import Plan, numbered_plans, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.port_spec import parse_port_spec, port_ranges, ports_field
from scans.tools.kit.reports import ParsedReport, bulk_parser, cvss_severity, load_xml, text
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from targets.items import Item

TOOL = "nmap"
ACCEPTS = {"host", "service"}
EMITS = {"service"}
TIMING = {"polite": "-T2", "normal": "-T3", "aggressive": "-T4"}


def _is_nmap_xml(data: bytes) -> bool:
    return xml_root(data) == "nmaprun"


def _is_nmap_grepable(data: bytes) -> bool:
    lines = text_lines(data, 5)
    return (
        bool(lines)
        and lines[0].startswith("# Nmap ")
        and ("-oG" in lines[0] or any(line.startswith("Host: ") for line in lines[1:]))
    )


NODE = Tool(
    type="nmap",
    label="Nmap",
    group="Discover",
    icon="network",
    help="Port and service detection with nmap, in a sandboxed container.",
    order=30,
    image="instrumentisto/nmap:7.95",
    network="bridge",
    sarif_uri="https://nmap.org/",
    formats=(
        ReportFormat(
            name="nmap-xml",
            label="Nmap XML (-oX)",
            detect=_is_nmap_xml,
            command="nmap -sV -oX nmap.xml HOST",
        ),
        ReportFormat(
            name="nmap-grepable",
            label="Nmap grepable (-oG)",
            detect=_is_nmap_grepable,
            command="nmap -sV -oG nmap.gnmap HOST",
            parse=lambda data, subject="": parse_grepable(data, subject=subject),
        ),
    ),
    test_image=TestImage(
        name="outpost-test/nmap:1",
        entrypoint=("/usr/bin/nmap",),
        binaries=("nmap",),
        files=("/usr/share/nmap", "/etc/services", "/etc/protocols", "/etc/nsswitch.conf"),
    ),
)


CONFIG_FIELDS: list[ConfigField] = [
    ports_field("top-1000", "top-100, top-1000, all, or a list such as 22,80,8000-8100 (host items)"),
    fields.boolean("version_detection", True, "Probe open ports for the service and its version (-sV)"),
    fields.boolean("vulners", False, "Look up CVEs for detected versions with the vulners script (asks vulners.com)"),
    fields.choice("timing", "normal", TIMING, "nmap timing template: polite (-T2), normal (-T3), aggressive (-T4)"),
    fields.boolean("assume_up", True, "Scan hosts that do not answer discovery probes (-Pn)"),
    timeout_field(),
]  # fmt: skip


def _port_args(spec: str) -> list[str]:
    keyword = spec.strip().lower()
    if keyword in {"top-100", "top-1000"}:
        return ["--top-ports", keyword.removeprefix("top-")]
    if keyword == "all":
        return ["-p-"]
    return ["-p", port_ranges(parse_port_spec(spec))]


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One nmap per host item, one per host of the service items (their ports only)."""
    options = validate_config(config, CONFIG_FIELDS)
    base = ["nmap", "-sT"]
    if options["assume_up"]:
        base.append("-Pn")
    if options["version_detection"] or options["vulners"]:
        base.append("-sV")
    base.append(TIMING[options["timing"]])
    if options["vulners"]:
        base += ["--script", "vulners"]
    refused: list[str] = []
    hosts: list[str] = []
    service_ports: dict[str, list[int]] = {}
    for item in items:
        try:
            if item.kind == "host":
                hosts.append(host_argument(item.value))
            elif item.kind == "service":
                host, port, proto = service_argument(item)
                if proto != "tcp":
                    refused.append(f"{item.value}: not scanned, UDP scans need root")
                    continue
                service_ports.setdefault(host, []).append(port)
        except TargetRefused as exc:
            refused.append(refused_line(item, exc))
    targets = [(host, _port_args(options["ports"])) for host in dict.fromkeys(hosts)]
    targets += [(host, ["-p", port_ranges(ports)]) for host, ports in service_ports.items()]

    def argv(target: tuple[str, list[str]], output: str) -> list[str]:
        host, ports = target
        return [*base, *ports, "-oX", output, "--", host]

    return numbered_plans(TOOL, [(target[0], target) for target in targets], "xml", argv), refused


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Services, open-port findings and vulners CVEs from nmap's XML."""
    if not data.strip():
        raise ValueError("empty nmap report")
    root = load_xml(data, "nmap", "nmaprun")
    report = ParsedReport()
    for host in root.iter("host"):
        _host(host, report, subject)
    hosts = root.find("runstats/hosts")
    if hosts is not None and hosts.get("up") == "0":
        report.notes.append(f"nmap found no host up ({hosts.get('down', '?')} down)")
    return report


@bulk_parser
def parse_grepable(data: bytes, *, subject: str = "") -> ParsedReport:
    """Services and open-port findings from nmap's grepable output (-oG): `Host: ADDR (NAME)`
    lines with `Ports: 22/open/tcp//ssh//OpenSSH 8.2p1/, …`. The format has no scripts, so no
    vulners entries; the name in parentheses is reverse DNS, kept for the inventory."""
    report = ParsedReport()
    hosts_up = 0
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.startswith("Host: "):
            continue
        fields = dict(part.split(": ", 1) for part in line.split("\t") if ": " in part)
        address, _, rest = fields.get("Host", "").partition(" ")
        if not address:
            raise ValueError(f"not an nmap grepable report: line {number} names no host")
        ptr = rest.strip().strip("()")
        if fields.get("Status", "").startswith("Up"):
            hosts_up += 1
        name = subject if subject and subject in (ptr, address) else address
        if "Ports" in fields:
            report.assets.append(Item("host", address, {"reverse_dns": [ptr]} if ptr else {}))
        for entry in fields.get("Ports", "").split(","):
            parts = entry.strip().split("/")
            if len(parts) < 7 or not parts[0].isdigit():
                continue
            if parts[1] != "open":
                continue
            port = Element("port", portid=parts[0], protocol=parts[2] or "tcp")
            port.append(Element("state", state="open"))
            attrs = {"name": parts[4], "product": parts[6]}
            port.append(Element("service", {k: v for k, v in attrs.items() if v}))
            _port(port, name=name, address=address, report=report)
    if not report.items and not hosts_up and b"Host: " not in data:
        report.notes.append("nmap found no host up")
    return report


def _host(host: Element, report: ParsedReport, subject: str) -> None:
    addresses = {a.get("addrtype", ""): a.get("addr", "") for a in host.findall("address")}
    address = addresses.get("ipv4") or addresses.get("ipv6") or ""
    names = [h.get("name", "") for h in host.findall("hostnames/hostname")]
    given = [
        h.get("name", "") for h in host.findall("hostnames/hostname") if h.get("type") == "user"
    ]
    name = (
        (given[0] if given else "") or (subject if subject in names else "") or address or subject
    )
    if not name:
        return
    if address:
        # For the inventory (not handed on: nmap's node emits services): the address with its
        # reverse DNS, and the name nmap was given resolving to it.
        ptr = [
            h.get("name", "") for h in host.findall("hostnames/hostname") if h.get("type") == "PTR"
        ]
        attrs: dict[str, Any] = {"reverse_dns": ptr} if ptr else {}
        report.assets.append(Item("host", address, attrs))
        if name != address:
            record = "AAAA" if ":" in address else "A"
            report.assets.append(Item("host", address, {"resolved_from": name, "record": record}))
    for port in host.findall("ports/port"):
        state = port.find("state")
        if state is None or state.get("state") != "open":
            continue
        _port(port, name=name, address=address, report=report)


def _port(port: Element, *, name: str, address: str, report: ParsedReport) -> None:
    number = int(port.get("portid", "0"))
    proto = port.get("protocol", "tcp")
    service = port.find("service")
    info: dict[str, Any] = {}
    if service is not None:
        info = {
            key: service.get(attr, "")
            for key, attr in (
                ("service", "name"),
                ("product", "product"),
                ("version", "version"),
                ("extrainfo", "extrainfo"),
                ("tunnel", "tunnel"),
            )
            if service.get(attr)
        }
        cpes = [c.text or "" for c in service.findall("cpe") if c.text]
        if cpes:
            info["cpe"] = cpes
    if address and address != name:
        info["address"] = address
    item = Item.service(name, number, proto, **info)
    report.items.append(item)
    shown = info.get("service") or "unknown service"
    product = " ".join(filter(None, (info.get("product"), info.get("version"))))
    report.findings.append(
        FindingData(
            tool=TOOL,
            severity="info",
            title=f"Open port {number}/{proto} ({shown}{', ' + product if product else ''})",
            rule_id="open-port",
            description=f"{item.value} accepts connections; nmap identified it as {shown}.",
            component="",
            version=str(info.get("version", "")),
            location=item.value,
            item=item.value,
            evidence={k: v for k, v in info.items()},
            tags=["open-port"],
        )
    )
    for script in port.findall("script"):
        if script.get("id") == "vulners":
            report.findings.extend(_vulners(script, item=item, info=info))


def _vulners(script: Element, *, item: Item, info: dict[str, Any]) -> list[FindingData]:
    """Entries of the vulners script: structured <table>s (nmap ≥ 7.7), else its text output
    ("\\tCVE-2018-15919\\t5.0\\thttps://vulners.com/cve/CVE-2018-15919" lines)."""
    entries: list[dict[str, str]] = []
    for cpe_table in script.findall("table"):
        for row in cpe_table.findall("table"):
            fields = {e.get("key", ""): (e.text or "") for e in row.findall("elem")}
            if fields.get("id"):
                entries.append({**fields, "cpe": cpe_table.get("key", "")})
    if not entries:
        cpe = ""
        for line in (script.get("output") or "").splitlines():
            parts = line.strip().split("\t")
            if len(parts) == 1 and parts[0].startswith("cpe:") and parts[0].endswith(":"):
                cpe = parts[0][:-1]
            elif len(parts) >= 2 and parts[0] and parts[1].replace(".", "", 1).isdigit():
                url = parts[2] if len(parts) > 2 else ""
                entries.append({"id": parts[0], "cvss": parts[1], "url": url, "cpe": cpe})
    component = str(info.get("product") or info.get("service") or "")
    version = str(info.get("version", ""))
    findings = []
    for entry in entries:
        vuln_id = entry["id"]
        kind = entry.get("type") or "cve"
        exploit = entry.get("is_exploit", "").lower() == "true"
        findings.append(
            FindingData(
                tool=TOOL,
                severity=cvss_severity(entry.get("cvss")),
                title=f"{vuln_id} in {' '.join(filter(None, (component, version))) or item.value}",
                rule_id=vuln_id,
                description=text(
                    f"vulners lists {vuln_id} (CVSS {entry.get('cvss') or '?'}) for "
                    f"{entry.get('cpe') or component} detected on {item.value}."
                ),
                component=component,
                version=version,
                location=item.value,
                item=item.value,
                evidence={
                    "cvss": entry.get("cvss", ""),
                    "cpe": entry.get("cpe", ""),
                    "type": kind,
                    "is_exploit": exploit,
                },
                references=[entry.get("url") or f"https://vulners.com/{kind}/{vuln_id}"],
                tags=["exploit"] if exploit else [],
                # vulners gives a score without saying which CVSS version it is: it sets the
                # severity, and is kept in the evidence, not as a v3.x score.
                vuln_ids=vuln_ids_in([vuln_id]),
            )
        )
    return findings


commands, run = planned_runner(TOOL, _plans, parse)
