"""testssl.sh: TLS/SSL configuration audits (https://testssl.sh).

Runs in a container: `testssl.sh --quiet --warnings off --color 0 --jsonfile
/output/testssl-N.json --protocols --server-defaults [--vulnerable] HOST:PORT` per TLS endpoint
(tcp service items, and the host:port of https URL items), argument list only. testssl.sh takes
no `--`: a target reaches the argv only when it parses as a host and a port (never anything
starting with `-`). `--warnings off` keeps it from asking on the terminal. Its exit code counts
the ambiguous results it met (1 to 241) and its report is read then too; 242 and up fail the
command.

Reads `--csvfile` CSV (testssl.sh 3.0 to 3.2): the header `"id","fqdn/ip","port","severity",
"finding","cve","cwe"` (3.2 may add `"hint"`), one row per check; and `--jsonfile` JSON, a list
of records with the same keys (`ip` instead of `fqdn/ip`). A file with the header and no rows is
a clean run.

Rows of severity LOW, MEDIUM, HIGH and CRITICAL are findings (rule id = the check's id, e.g.
`DROWN`; CVE and CWE ids from their columns); OK and INFO rows are facts, not findings; WARN and
FATAL rows (testssl could not test something, e.g. "Can't connect") go to the step log as
notes; a report of FATAL errors and no check is refused, so a failed run is not mistaken for a
clean host. `fqdn/ip` is "name/address": the
location is the service `name:port/tcp` (the address when there is no name), so one check on a
name served by several addresses (round-robin DNS) is one finding, its repeats counted as
occurrences. Each scanned service is recorded in the inventory as a TLS service.
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import FindingData
from scans.engine.vulns import cwe_ids, vuln_ids_in
from scans.tools.kit import fields
from scans.tools.kit.arguments import tls_endpoints
from scans.tools.kit.detect import csv_header, has_keys, json_document
from scans.tools.kit.invoke import Plan, numbered_plans, own_subjects, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import (
    ParsedReport,
    bulk_parser,
    csv_rows,
    load_json_shaped,
    named_severity,
    text,
)
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from targets.items import Item

TOOL = "testssl"
ACCEPTS = {"service", "url"}
EMITS: set[str] = set()
_COLUMNS = ["id", "fqdn/ip", "port", "severity", "finding"]
FINDING_SEVERITIES = {"LOW", "MEDIUM", "HIGH", "CRITICAL"}
NOTE_SEVERITIES = {"WARN", "FATAL"}
# testssl.sh exits with the number of ambiguous results or errors it met (1 to 241), its report
# complete; 242 and up are its own failures (no connection, a missing resource, ...).
_AMBIGUOUS = range(1, 242)


def _is_testssl_csv(data: bytes) -> bool:
    return csv_header(data)[:5] == _COLUMNS


def _is_testssl_json(data: bytes) -> bool:
    document = json_document(data)
    return (
        isinstance(document, list)
        and bool(document)
        and has_keys(document[0], "id", "ip", "port", "severity", "finding")
    )


NODE = Tool(
    type=TOOL,
    label="testssl.sh",
    group="Probe",
    icon="lock",
    help="TLS protocols, certificates and known weaknesses with testssl.sh, in a sandboxed container.",
    order=61,
    image="drwetter/testssl.sh:3.2",
    network="bridge",
    sarif_uri="https://testssl.sh",
    # Debian's testssl.sh is a bash script (/usr/bin/testssl, data in /etc/testssl): the image
    # gets bash, openssl and the coreutils it insists on, with their libraries, the script, its data, and a launcher named
    # like upstream's entrypoint (testssl.sh) that starts it; busybox gives the rest.
    test_image=TestImage(
        name="outpost-test/testssl:1",
        entrypoint=("/usr/local/bin/testssl.sh",),
        # testssl.sh refuses busybox's versions of these (check_base_requirements).
        binaries=(
            "bash",
            "openssl",
            "dig",
            "dd",
            "tr",
            "wc",
            "date",
            "cat",
            "ps",
            "kill",
            "head",
            "tail",
            "dirname",
        ),
        files=(
            "/usr/bin/testssl",
            "/etc/testssl",
            "/usr/lib/ssl/openssl.cnf",
            "/etc/ssl/openssl.cnf",
            "/etc/nsswitch.conf",
        ),
        stand_in="tests/data/stand-ins/testssl-launcher.sh",
    ),
    formats=(
        ReportFormat(
            name="testssl-csv",
            label="testssl.sh CSV (--csvfile)",
            detect=_is_testssl_csv,
            command="testssl.sh --csvfile testssl.csv example.com:443",
        ),
        ReportFormat(
            name="testssl-json",
            label="testssl.sh JSON (--jsonfile)",
            detect=_is_testssl_json,
            command="testssl.sh --jsonfile testssl.json example.com:443",
            empty=("[]",),
        ),
    ),
)


CONFIG_FIELDS: list[ConfigField] = [
    fields.boolean("vulnerable", True, "Also test for known vulnerabilities (Heartbleed, ROBOT, POODLE, ...); slower"),
    timeout_field(),
]  # fmt: skip


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One testssl.sh per TLS endpoint (service, or an https URL's host and port)."""
    options = validate_config(config, CONFIG_FIELDS)
    targets, refused = tls_endpoints(items)
    vulnerable = ["--vulnerable"] if options["vulnerable"] else []

    def argv(target: str, output: str) -> list[str]:
        argv = ["testssl.sh", "--quiet", "--warnings", "off", "--color", "0"]
        argv += ["--jsonfile", output, "--protocols", "--server-defaults"]
        return [*argv, *vulnerable, target]

    plans = numbered_plans(TOOL, own_subjects(targets), "json", argv, ok_exit_codes=_AMBIGUOUS)
    return plans, refused


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings (LOW and worse) and notes (WARN, FATAL) from a testssl.sh CSV or JSON report."""
    if _is_testssl_csv(data):
        rows: list[Any] = csv_rows(data, TOOL)
    else:
        rows = load_json_shaped(data, TOOL, list, "a list of checks", name="testssl.sh")
    report = ParsedReport()
    services: dict[str, Item] = {}
    for row in rows:
        if not isinstance(row, dict) or "id" not in row or "severity" not in row:
            raise ValueError("not a testssl.sh report: a row has no id or severity")
        _add(report, services, row)
    fatal = [note for note in report.notes if " FATAL " in note]
    if fatal and len(report.notes) == len(rows):
        # Nothing but errors: testssl.sh tested nothing, so this is no clean report.
        raise ValueError(f"testssl.sh could not test the target: {fatal[0]}")
    report.assets.extend(services.values())
    return report


def _service(row: dict[str, Any]) -> tuple[str, str, int] | None:
    name, _, address = str(row.get("fqdn/ip") or row.get("ip") or "").partition("/")
    try:
        port = int(str(row.get("port") or ""))
    except ValueError:
        return None
    host = (name or address).strip().lower()
    return (host, address.strip(), port) if host and 0 < port < 65536 else None


def _add(report: ParsedReport, services: dict[str, Item], row: dict[str, Any]) -> None:
    check, severity = str(row["id"]), str(row["severity"]).strip().upper()
    said = text(row.get("finding"), 2000)
    where = _service(row)
    if severity in NOTE_SEVERITIES:
        report.notes.append(f"testssl.sh {severity} {check}: {said}"[:500])
        return
    if where is None:
        return
    host, address, port = where
    service = Item.service(host, port, "tcp", tls=True, address=address if address != host else "")
    if not service.attrs["address"]:
        del service.attrs["address"]
    services.setdefault(service.value, service)
    if severity not in FINDING_SEVERITIES:
        return
    cves = vuln_ids_in(str(row.get("cve") or "").split())
    report.findings.append(
        FindingData(
            tool=TOOL,
            severity=named_severity(severity),
            title=f"{check}: {said}"[:500],
            rule_id=check,
            description=f"testssl.sh on {service.value}: {said}",
            location=service.value,
            item=service.value,
            evidence={
                "id": check,
                "severity": severity,
                "finding": said,
                "address": address,
                "hint": text(row.get("hint"), 2000),
            },
            tags=["tls"],
            cwe_ids=cwe_ids(str(row.get("cwe") or "").split()),
            vuln_ids=cves,
        )
    )


commands, run = planned_runner(TOOL, _plans, parse)
