"""dnsrecon: DNS enumeration (https://github.com/darkoperator/dnsrecon), in a container.

Runs `dnsrecon -d DOMAIN -t axfr,brt --iw -f -D /input/names.txt [-n NAMESERVER] --threads N
--lifetime S -j /output/dnsrecon-N.json` per domain item: a zone transfer attempt against the
domain's name servers, then a brute force of the bundled subdomain wordlist (the one the built-in
`subdomains` uses, scans/tools/wordlists/). `--iw` goes on past a wildcard record instead of
asking on the terminal (dnsrecon waits for an answer there otherwise) and `-f` leaves out the
names that resolve only to the wildcard's addresses. dnsrecon takes no `--`: a domain item never
starts with `-` (targets are parsed strictly before they become arguments). Its own `-n` takes
an address only, no port.

Reads `-j` JSON (dnsrecon 0.10 to 1.x): a list of records `{"type", "name", "address",
"target", …}` after a `ScanInfo` record; an `info` record with `"zone_transfer": "success"`
names a name server that handed out the zone. Every name (A/AAAA/CNAME owners, NS/MX/SRV
targets) becomes a `host` item with `addresses` and `source` ("dnsrecon"); wildcard owners
(`*.…`) and dnsrecon's `@.domain` are read as the domain. Severity: a successful zone transfer is
a medium finding `dns-zone-transfer` (location `name-server:53`); names are not findings.
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import FindingData
from scans.tools.dns_resolve import parse_nameserver
from scans.tools.kit import fields
from scans.tools.kit.arguments import host_argument, item_arguments
from scans.tools.kit.detect import json_document
from scans.tools.kit.invoke import Plan, numbered_plans, own_subjects, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import ParsedReport, bulk_parser, load_json_shaped
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from scans.tools.kit.values import is_ip_literal
from scans.tools.kit.wordlists import WORDLIST_DIR
from targets.items import Item

TOOL = "dnsrecon"
ACCEPTS = {"host"}
EMITS = {"host"}
_LIBS = "/usr/lib/x86_64-linux-gnu/"


def _is_dnsrecon_json(data: bytes) -> bool:
    document = json_document(data)
    return (
        isinstance(document, list)
        and bool(document)
        and isinstance(document[0], dict)
        and document[0].get("type") == "ScanInfo"
        and "dnsrecon" in str(document[0].get("arguments", ""))
    )


NODE = Tool(
    type=TOOL,
    label="dnsrecon",
    group="Discover",
    icon="globe",
    help="Zone transfers and subdomain brute force with dnsrecon, in a sandboxed container.",
    order=6,
    # The dnsrecon project publishes no image: a community build; pin it by digest or point
    # TOOL_IMAGE_DNSRECON at your own.
    image="secsi/dnsrecon:1.1.3",
    network="bridge",
    sarif_uri="https://github.com/darkoperator/dnsrecon",
    formats=(
        ReportFormat(
            name="dnsrecon-json",
            label="dnsrecon JSON (-j)",
            detect=_is_dnsrecon_json,
            command="dnsrecon -d example.com -t std,axfr -j dnsrecon.json",
        ),
    ),
    # Debian's dnsrecon is Python: the interpreter, the standard library, the distribution's
    # packages (dnspython, netaddr, lxml) and the libraries lxml and sqlite3 load.
    test_image=TestImage(
        name="outpost-test/dnsrecon:1",
        entrypoint=("/usr/bin/dnsrecon",),
        binaries=("/usr/bin/python3.11", "openssl"),
        files=(
            "/usr/bin/python3",
            "/usr/bin/dnsrecon",
            "/usr/share/dnsrecon",
            "/usr/lib/python3.11",
            "/usr/lib/python3/dist-packages",
            "/etc/nsswitch.conf",
            *(
                _LIBS + lib
                for lib in (
                    "libexslt.so.0",
                    "libgcc_s.so.1",
                    "libgcrypt.so.20",
                    "libgpg-error.so.0",
                    "libicudata.so.72",
                    "libicuuc.so.72",
                    "liblzma.so.5",
                    "libsqlite3.so.0",
                    "libstdc++.so.6",
                    "libxml2.so.2",
                    "libxslt.so.1",
                    "libz.so.1",
                    "libffi.so.8",
                    "libbz2.so.1.0",
                )
            ),
        ),
    ),
)

CONFIG_FIELDS: list[ConfigField] = [
    fields.text("nameserver", "", 64, "Ask this resolver (an IP address; dnsrecon takes no port)", parse_nameserver),
    fields.integer("threads", 20, 1, 200, "Lookups in flight (--threads)"),
    fields.integer("lifetime_s", 3, 1, 30, "Time to wait for a server to answer (--lifetime)"),
    timeout_field(),
]  # fmt: skip


def _domain(value: str) -> str:
    return host_argument(value.rstrip(".").lower())


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One dnsrecon per domain item."""
    options = validate_config(config, CONFIG_FIELDS)
    nameserver = parse_nameserver(options["nameserver"])
    names = [item for item in items if not is_ip_literal(item.value)]
    domains, refused = item_arguments(names, "host", _domain)
    if nameserver is not None and nameserver[1] != 53:
        refused.append(f"nameserver port {nameserver[1]} ignored: dnsrecon asks port 53")
    asked = ["-n", nameserver[0]] if nameserver is not None else []

    def argv(domain: str, output: str) -> list[str]:
        argv = ["dnsrecon", "-d", domain, "-t", "axfr,brt", "--iw", "-f"]
        argv += ["-D", "/input/names.txt", *asked]
        argv += ["--threads", str(options["threads"]), "--lifetime", str(options["lifetime_s"])]
        return [*argv, "-j", output]

    plans = numbered_plans(
        TOOL,
        own_subjects(domains),
        "json",
        argv,
        input_files={"names.txt": WORDLIST_DIR / "subdomains.txt"},
        # Debian's dnsrecon finds its package beside its script's real path.
        env={"PYTHONPATH": "/usr/share/dnsrecon"},
    )
    return plans, refused


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Names and zone transfers from dnsrecon's JSON output; `subject` is the domain."""
    document = load_json_shaped(data, TOOL, list, "a list of records")
    report = ParsedReport()
    domain = subject.rstrip(".").lower()
    names: dict[str, list[str]] = {}
    for record in document:
        if not isinstance(record, dict):
            raise ValueError("not a dnsrecon report: a record is not an object")
        kind = str(record.get("type", "")).upper()
        if kind == "INFO" and record.get("zone_transfer") == "success":
            _transfer(report, str(record.get("ns_server", "")), domain)
            continue
        if kind in ("A", "AAAA", "CNAME"):
            name = _name(record.get("name"), domain)
            address = str(record.get("address") or "")
            known = names.setdefault(name, []) if name else []
            if kind != "CNAME" and address and address != "no_ip" and address not in known:
                known.append(address)
        if kind in ("CNAME", "NS", "MX", "SRV"):
            target = _name(record.get("target") or record.get("exchange"), domain)
            if target:
                names.setdefault(target, [])
    for name, addresses in names.items():
        attrs: dict[str, Any] = {"source": TOOL}
        if addresses:
            attrs["addresses"] = addresses
        report.items.append(Item("host", name, attrs))
    return report


def _name(value: Any, domain: str) -> str:
    """A record's name: lower-case, no final dot; `@.d` and `*.d` are `d`; a bare label (SRV
    targets in zone transfers) is under the domain."""
    name = str(value or "").strip().rstrip(".").lower()
    if not name or " " in name:
        return ""
    for prefix in ("@.", "*."):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if "." not in name and domain:
        name = f"{name}.{domain}"
    return name


def _transfer(report: ParsedReport, server: str, domain: str) -> None:
    report.findings.append(
        FindingData(
            tool=TOOL,
            severity="medium",
            title=f"DNS zone transfer allowed for {domain or 'the domain'}",
            rule_id="dns-zone-transfer",
            description=(
                f"The name server {server} answers AXFR requests for {domain} from anyone: the "
                "whole zone can be listed."
            ),
            remediation="Allow zone transfers only to the secondary name servers (by key).",
            location=f"{server}:53",
            item=domain,
            evidence={"name_server": server},
            tags=["dns", "misconfiguration"],
        )
    )


commands, run = planned_runner(TOOL, _plans, parse)
