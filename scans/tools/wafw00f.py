"""wafw00f: web application firewall detection (https://github.com/EnableSecurity/wafw00f).

Runs in a container: `wafw00f -r -a -f json -o /output/wafw00f-N.json URL` per URL item (`-r`:
redirects are not followed, so nothing off the URL is asked; `-a`: every matching WAF, not only
the first). wafw00f sends a handful of requests, some with attack-looking parameters (`<script>`,
`../../etc/passwd`), to see whether something answers for the application.

Reads its JSON output (wafw00f 2.x, `-o file.json` or `-f json -o -`): a list of
`{"url", "detected", "firewall", "manufacturer"}`; `"firewall": "Generic"` means its generic
detection saw a WAF without naming it. Every record becomes a `url` item; a detected WAF sets the
URL's `waf` attr (`Cloudflare (Cloudflare Inc.)`, the inventory's WAF column) and an `info`
finding `waf-detected` located at the URL (severity always info: a WAF is an observation that
changes how later scan results read, not a weakness). `[]` is a clean run.
"""

from __future__ import annotations

from typing import Any

from scans.tools.kit import fields
from scans.tools.kit.arguments import item_arguments, url_argument
from scans.tools.kit.detect import has_keys, json_document
from scans.tools.kit.discovery import url_found
from scans.tools.kit.invoke import Plan, numbered_plans, own_subjects, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import ParsedReport, bulk_parser, load_json_shaped
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from targets.items import Item

TOOL = "wafw00f"
ACCEPTS = {"url"}
EMITS = {"url"}


def _is_wafw00f_json(data: bytes) -> bool:
    document = json_document(data)
    return (
        isinstance(document, list)
        and bool(document)
        and has_keys(document[0], "url", "detected", "firewall", "manufacturer")
    )


NODE = Tool(
    type=TOOL,
    label="wafw00f",
    group="Probe",
    icon="shield",
    help="Detect web application firewalls in front of web apps, in a sandboxed container.",
    order=61,
    # The wafw00f project publishes no image: a community build; pin it by digest or point
    # TOOL_IMAGE_WAFW00F at your own.
    image="secsi/wafw00f:2.2.0",
    network="bridge",
    sarif_uri="https://github.com/EnableSecurity/wafw00f",
    formats=(
        ReportFormat(
            name="wafw00f-json",
            label="wafw00f JSON (-o file.json)",
            detect=_is_wafw00f_json,
            command="wafw00f -a -o wafw00f.json https://example.com/",
            empty=("[]",),
        ),
    ),
    # Debian's wafw00f is a Python script: the interpreter (with its libraries), the standard
    # library, and the distribution's packages (wafw00f, requests and theirs).
    test_image=TestImage(
        name="outpost-test/wafw00f:1",
        entrypoint=("/usr/bin/wafw00f",),
        binaries=("/usr/bin/python3.11", "openssl"),  # Debian's, not a virtualenv's
        files=(
            "/usr/bin/python3",
            "/usr/bin/wafw00f",
            "/usr/lib/python3.11",
            "/usr/lib/python3/dist-packages",
            "/usr/lib/x86_64-linux-gnu/libffi.so.8",
            "/usr/lib/x86_64-linux-gnu/liblzma.so.5",
            "/usr/lib/x86_64-linux-gnu/libbz2.so.1.0",
            "/etc/nsswitch.conf",
            "/etc/ssl/certs/ca-certificates.crt",
        ),
    ),
)

CONFIG_FIELDS: list[ConfigField] = [
    fields.boolean("find_all", True, "Report every WAF whose signature matches, not only the first (-a)"),
    timeout_field(),
]  # fmt: skip


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One wafw00f per URL item (wafw00f has no `--`: a URL never starts with `-`)."""
    options = validate_config(config, CONFIG_FIELDS)
    urls, refused = item_arguments(items, "url", url_argument)
    find_all = ["-a"] if options["find_all"] else []

    def argv(url: str, output: str) -> list[str]:
        return ["wafw00f", "-r", *find_all, "-f", "json", "-o", output, url]

    return numbered_plans(TOOL, own_subjects(urls), "json", argv), refused


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """URLs and the WAFs in front of them from wafw00f's JSON output."""
    document = load_json_shaped(data, TOOL, list, "a list of results")
    report = ParsedReport()
    wafs: dict[str, list[str]] = {}
    for record in document:
        if not isinstance(record, dict) or "url" not in record:
            raise ValueError("not a wafw00f report: a result has no url")
        url = str(record["url"])
        wafs.setdefault(url, [])
        if record.get("detected") is True:
            firewall = str(record.get("firewall") or "Generic")
            maker = str(record.get("manufacturer") or "")
            named = (
                f"{firewall} ({maker})" if maker and maker not in ("None", "Unknown") else firewall
            )
            if named not in wafs[url]:
                wafs[url].append(named)
    for url, found in wafs.items():
        shown = " and ".join(found)
        result = url_found(
            TOOL, url, rule_id="waf-detected",
            title=f"Behind a WAF: {shown}" if found else "",
            description=f"wafw00f sees {shown} in front of {url}.",
            waf=", ".join(found),
        )  # fmt: skip
        if result is None:
            raise ValueError(f"not a wafw00f report: {url[:100]!r} is not a URL")
        item, finding = result
        report.items.append(item)
        if found:
            finding.evidence = {"wafs": found}
            report.findings.append(finding)
    return report


commands, run = planned_runner(TOOL, _plans, parse)
