"""Nuclei: template-based checks for known vulnerabilities, exposures and misconfigurations
(https://github.com/projectdiscovery/nuclei), in a container.

One command per item (a URL, a `host:port` service, or a host):

    nuclei -jsonl -o /output/nuclei-N.jsonl -silent -no-color -disable-update-check
           -severity <min and above> [-tags T] -rate-limit N [-no-interactsh] -u TARGET

Nuclei takes targets only through `-u` (there is no positional argument to put after `--`);
the target is validated like every tool argument and can never start with "-". Interactsh
(out-of-band callbacks to projectdiscovery's servers) is off unless configured. The upstream
image fetches its templates on first use (network `TOOL_NETWORK_NUCLEI`).

Reads JSON Lines (nuclei ≥ 2.x `-jsonl`/`-json`) and a JSON array (`-je`, v3 exports), with the
field names of nuclei ≥ 2.4 (`template-id`, `matched-at`, `matcher-name`) or of 2.0 to 2.3
(`templateID`, `matched`, `matcher_name`); an empty file or `[]` is an empty report (what a run
that found nothing writes). Request and response are kept as evidence, 4 KiB each. Severity: `info.severity` (critical/high/medium/low/info;
unknown → info). rule_id = `template-id`; location = `matched-at` (else `host`); item (the
inventory asset the finding is about) = `matched-at` when it is an http(s) URL, which is also
recorded as a URL asset (tech-detect results name its technology); component =
`matcher-name`, else the extracted results (templates such as tls-version report one result per
value at the same place: tls12 and tls13 are two findings). From `info.classification`:
cwe_ids (`cwe-id`), vuln_ids (`cve-id`), CVSS from `cvss-metrics` (else `cvss-score` as a v3.x
score), EPSS (`epss-score`, `epss-percentile`); is_kev from the template tag `kev`. Timestamps, IPs, requests and
responses are evidence, not identity.
"""

from __future__ import annotations

import re
from typing import Any

from scans.engine.runtime import SEVERITIES, FindingData
from scans.engine.vulns import cvss_fill, cwe_ids, probability, score_or_none, vuln_ids_in
from scans.tools.kit import fields
from scans.tools.kit.arguments import item_argument, item_targets
from scans.tools.kit.detect import first_json_line, has_any_key, json_document
from scans.tools.kit.invoke import Plan, numbered_plans, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import (
    ParsedReport,
    as_list,
    bulk_parser,
    load_json,
    load_json_lines,
    named_severity,
    text,
)
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from scans.tools.kit.values import canonical_url
from targets.items import Item

TOOL = "nuclei"
ACCEPTS = {"host", "service", "url"}
EMITS: set[str] = set()


def _is_nuclei_json(data: bytes) -> bool:
    document = json_document(data)
    record = document[0] if isinstance(document, list) and document else None
    if document is None or isinstance(document, dict):
        record = first_json_line(data) if document is None else document
    return has_any_key(record, "template-id", "templateID")


NODE = Tool(
    type="nuclei",
    label="Nuclei",
    group="Scan",
    icon="crosshair",
    help="Template-based web vulnerability checks with nuclei, sandboxed.",
    order=35,
    image="projectdiscovery/nuclei:v3.3.5",
    network="bridge",
    sarif_uri="https://github.com/projectdiscovery/nuclei",
    formats=(
        ReportFormat(
            name="nuclei-jsonl",
            label="Nuclei JSON Lines",
            detect=_is_nuclei_json,
            command="nuclei -jsonl -o nuclei.jsonl -u URL",
            empty=("blank", "[]"),
        ),
    ),
    # Real nuclei fetches its templates from the internet: tests run a stand-in that checks the
    # argv and writes a real tech-detect result for the target.
    test_image=TestImage(
        name="outpost-test/nuclei-fake:1",
        entrypoint=("/usr/local/bin/nuclei",),
        stand_in="tests/data/stand-ins/nuclei.sh",
    ),
)
_TAGS = re.compile(r"^[a-z0-9][a-z0-9_.-]*(?:,[a-z0-9][a-z0-9_.-]*)*$")


def _check_tags(value: str) -> None:
    if value and not _TAGS.match(value):
        raise ValueError("comma-separated template tags: lower-case letters, digits, . _ -")


CONFIG_FIELDS: list[ConfigField] = [
    fields.choice("min_severity", "low", reversed(SEVERITIES), "Run templates of this severity and above"),
    fields.text("tags", "", 500, "Only templates with these tags (comma-separated), e.g. cve,exposure", _check_tags),
    fields.integer("rate_limit", 150, 1, 2000, "Requests per second at most"),
    fields.boolean("interactsh", False, "Allow out-of-band checks through projectdiscovery's interactsh servers"),
    timeout_field(),
]  # fmt: skip


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One nuclei per host, service or URL item."""
    options = validate_config(config, CONFIG_FIELDS)
    minimum = SEVERITIES.index(options["min_severity"])
    severities = ",".join(reversed(SEVERITIES[: minimum + 1]))
    targets, refused = item_targets(items, ACCEPTS, item_argument)
    tags = ["-tags", options["tags"]] if options["tags"] else []
    interactsh = [] if options["interactsh"] else ["-no-interactsh"]

    def argv(target: str, output: str) -> list[str]:
        argv = ["nuclei", "-jsonl", "-o", output, "-silent", "-no-color"]
        argv += ["-disable-update-check", "-severity", severities, *tags]
        return [*argv, "-rate-limit", str(options["rate_limit"]), *interactsh, "-u", target]

    return numbered_plans(TOOL, targets.items(), "jsonl", argv), refused


def _results(data: bytes) -> list[Any]:
    body = data.decode("utf-8-sig", errors="strict").strip()
    if not body:
        return []
    if body.startswith("["):
        return as_list(load_json(data, TOOL))
    return load_json_lines(data, TOOL)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from nuclei's JSON Lines or JSON array output."""
    try:
        results = _results(data)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not a nuclei report: {exc}") from exc
    report = ParsedReport()
    for raw in results:
        result = _current_names(raw)
        if "template-id" not in result:
            raise ValueError("not a nuclei report: a result has no template-id (or templateID)")
        finding = _finding(result, subject)
        report.findings.append(finding)
        if finding.item.startswith(("http://", "https://")):
            attrs: dict[str, Any] = {}
            if "tech" in finding.tags and finding.component:
                attrs["technologies"] = [finding.component]  # tech-detect: the matcher names it
            report.assets.append(Item("url", finding.item, attrs))
    return report


# nuclei 2.0 to 2.3 wrote camelCase and snake_case names; 2.4 and later the kebab-case ones.
_OLD_NAMES = {
    "templateID": "template-id",
    "matched": "matched-at",
    "matcher_name": "matcher-name",
    "extracted_results": "extracted-results",
    "template_url": "template-url",
}
EVIDENCE_MAX = 4096  # request and response kept per finding (bytes of text)


def _current_names(result: Any) -> dict[str, Any]:
    """A result with the field names of nuclei ≥ 2.4 (older names mapped)."""
    if not isinstance(result, dict):
        raise ValueError("not a nuclei report: a result is not an object")
    if "template-id" in result:
        return result
    return {_OLD_NAMES.get(str(key), str(key)): value for key, value in result.items()}


def _matched_url(value: Any) -> str:
    """The matched-at place as a canonical URL, or "" when it is none (network templates
    report host:port)."""
    try:
        return canonical_url(str(value or ""))
    except ValueError:
        return ""


def _finding(result: dict[str, Any], subject: str) -> FindingData:
    info = result.get("info") or {}
    template = str(result.get("template-id") or "")
    matcher = str(result.get("matcher-name") or "")
    extracted = [str(v) for v in as_list(result.get("extracted-results"))]
    location = text(result.get("matched-at") or result.get("host"), 2000)
    classification = info.get("classification") or {}
    raw_tags = info.get("tags")
    tags = raw_tags.split(",") if isinstance(raw_tags, str) else as_list(raw_tags)
    name = text(info.get("name") or template, 400)
    tag_list = [str(t).strip() for t in tags if str(t).strip()]
    finding = FindingData(
        tool=TOOL,
        severity=named_severity(info.get("severity")),
        title=f"{name} ({matcher})" if matcher else name,
        rule_id=template,
        description=text(info.get("description")),
        remediation=text(info.get("remediation")),
        component=matcher or text(",".join(extracted), 200),
        location=location,
        # The finding is about the URL it matched at (an inventory asset), else what was scanned.
        item=_matched_url(result.get("matched-at")) or subject or text(result.get("host"), 2000),
        evidence={
            "type": str(result.get("type") or ""),
            "host": str(result.get("host") or ""),
            "ip": str(result.get("ip") or ""),
            "matcher_name": matcher,
            "extracted_results": extracted,
            "template_url": str(result.get("template-url") or ""),
            "cve": [str(c) for c in as_list(classification.get("cve-id"))],
            "cwe": [str(c) for c in as_list(classification.get("cwe-id"))],
            "cvss_score": classification.get("cvss-score") or "",
            "timestamp": str(result.get("timestamp") or ""),
            # The exchange that matched, capped: a finding is read by people, not replayed.
            "request": text(result.get("request"), EVIDENCE_MAX),
            "response": text(result.get("response"), EVIDENCE_MAX),
            "curl_command": text(result.get("curl-command"), EVIDENCE_MAX),
        },
        references=[str(r) for r in as_list(info.get("reference"))],
        tags=tag_list,
        cwe_ids=cwe_ids(as_list(classification.get("cwe-id"))),
        vuln_ids=vuln_ids_in(as_list(classification.get("cve-id"))),
        epss_score=probability(classification.get("epss-score")),
        epss_percentile=probability(classification.get("epss-percentile")),
        # nuclei-templates tags the templates of CISA's Known Exploited Vulnerabilities "kev".
        is_kev="kev" in {t.lower() for t in tag_list},
    )
    metrics = classification.get("cvss-metrics")
    cvss_fill(finding, as_list(metrics))
    if not finding.cvss_v3_vector and not finding.cvss_v4_vector:
        # A score without a vector: nuclei-templates' scores are CVSS v3.x.
        finding.cvss_v3_score = score_or_none(classification.get("cvss-score"))
    return finding


commands, run = planned_runner(TOOL, _plans, parse)
