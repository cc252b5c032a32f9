"""Grype: vulnerabilities in container images (https://github.com/anchore/grype), in a
container. Offered only when GRYPE_ENABLED is true (a second opinion next to Trivy).

`grype --quiet --output json --file /output/grype-N.json --scope squashed|all-layers -- IMAGE`.
Like Trivy it downloads its database on first use (network `TOOL_NETWORK_GRYPE`).

Reads match documents from grype 0.7 to today: `{"matches": [{"vulnerability", "artifact",
"relatedVulnerabilities", "matchDetails"}], "source", "descriptor"}`. Fields that moved across
versions are read from either place: fixed versions from `vulnerability.fix.versions` (newer) or
`fixedInVersion` (0.7-era), references from `urls` or `links`, a description from the vulnerability
or its first related (NVD) record, locations as objects or plain paths.

Also reads grype's SARIF (`--output sarif`, driver "Grype": scans.tools.kit.sarif) and CycloneDX
(`--output cyclonedx-json` / `cyclonedx`, 1.4+ `vulnerabilities` and the 0.7-era XML extension:
scans.tools.kit.cyclonedx).

Severity: Critical/High/Medium/Low as they are; Negligible and Unknown → info. A match whose
vulnerability has no severity (grype leaves it empty for some GHSA-only and distro records)
takes the severity of its first related record (`relatedVulnerabilities`, usually NVD's), so it
is not reported as info when NVD rates it; with none anywhere it is info. rule_id = the
vulnerability id (CVE or GHSA), component = package name, version = installed version, fixed =
fixed versions. Location: `<image>:<first location path>` (the image from the report's source, or
the scanned item). grype lists a match once per matcher that found it; duplicates are merged
(evidence `occurrences`).
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import FindingData
from scans.engine.vulns import cvss_fill, cwe_ids, probability, vuln_ids_in
from scans.tools.kit import fields
from scans.tools.kit.arguments import image_argument, item_arguments
from scans.tools.kit.cyclonedx import cyclonedx_format
from scans.tools.kit.detect import has_any_key, has_keys, json_document
from scans.tools.kit.invoke import Plan, numbered_plans, own_subjects, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import (
    ParsedReport,
    as_list,
    bulk_parser,
    load_json,
    named_severity,
    normalize_path,
    text,
)
from scans.tools.kit.sarif import sarif_format
from scans.tools.kit.tool import ReportFormat, Tool
from targets.items import Item

TOOL = "grype"
ACCEPTS = {"image"}
EMITS: set[str] = set()


def _is_grype_json(data: bytes) -> bool:
    document = json_document(data)
    return (
        has_keys(document, "matches")
        and isinstance(document["matches"], list)
        and (has_any_key(document, "source", "descriptor", "distro") or bool(document["matches"]))
        and all(has_keys(match, "vulnerability") for match in document["matches"][:1])
    )


NODE = Tool(
    type="grype",
    label="Grype",
    group="Scan",
    icon="box",
    help="A second opinion on container image vulnerabilities with Grype, sandboxed.",
    order=20,
    enabled_setting="GRYPE_ENABLED",
    image="anchore/grype:v0.82.0",
    network="bridge",
    caches_downloads=True,
    sarif_uri="https://github.com/anchore/grype",
    formats=(
        ReportFormat(
            name="grype-json",
            label="Grype JSON",
            detect=_is_grype_json,
            command="grype IMAGE --output json --file grype.json",
        ),
        sarif_format(TOOL, "Grype", command="grype IMAGE --output sarif --file grype.sarif"),
        cyclonedx_format(
            TOOL,
            "Grype",
            "grype",
            command="grype IMAGE --output cyclonedx-json --file grype.cdx.json",
        ),
    ),
)
CONFIG_FIELDS: list[ConfigField] = [
    fields.choice("scope", "squashed", ["squashed", "all-layers"], "Packages of the final image only (squashed), or of every layer"),
    fields.boolean("only_fixed", False, "Leave out vulnerabilities that have no fixed version yet"),
    timeout_field(),
]  # fmt: skip


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One grype per image item."""
    options = validate_config(config, CONFIG_FIELDS)
    images, refused = item_arguments(items, "image", image_argument)
    only_fixed = ["--only-fixed"] if options["only_fixed"] else []

    def argv(image: str, output: str) -> list[str]:
        argv = ["grype", "--quiet", "--output", "json", "--file", output]
        return [*argv, "--scope", options["scope"], *only_fixed, "--", image]

    return numbered_plans(TOOL, own_subjects(images), "json", argv), refused


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a grype JSON document (any version from 0.7 on)."""
    document = load_json(data, TOOL)
    if not isinstance(document, dict) or "matches" not in document:
        raise ValueError("not a grype report: no `matches`")
    artifact = subject or _source_name(document.get("source"))
    report = ParsedReport()
    for match in as_list(document.get("matches")):
        if not isinstance(match, dict):
            raise ValueError("not a grype report: a match is not an object")
        report.findings.append(_finding(match, artifact, subject))
    return report


def _source_name(source: Any) -> str:
    if not isinstance(source, dict):
        return ""
    target = source.get("target")
    if isinstance(target, dict):
        return str(target.get("userInput") or (target.get("tags") or [""])[0] or "")
    name = str(target or "").strip().strip('"')
    return "" if name in {".", "./"} else name


def _first_path(artifact: dict[str, Any]) -> str:
    for location in as_list(artifact.get("locations")):
        path = location.get("path") if isinstance(location, dict) else location
        if path:
            return normalize_path(path)
    return ""


def _finding(match: dict[str, Any], artifact_name: str, subject: str) -> FindingData:
    vuln = match.get("vulnerability") or {}
    related = [r for r in as_list(match.get("relatedVulnerabilities")) if isinstance(r, dict)]
    package = match.get("artifact") or {}
    vuln_id = str(vuln.get("id") or "")
    name = str(package.get("name") or "")
    version = str(package.get("version") or "")
    fix = vuln.get("fix") or {}
    fixed = ", ".join(str(v) for v in as_list(fix.get("versions"))) or str(
        vuln.get("fixedInVersion") or ""
    )
    severity = vuln.get("severity") or next((r.get("severity") for r in related), "")
    description = vuln.get("description") or next(
        (r.get("description") for r in related if r.get("description")), ""
    )
    references = [str(u) for u in as_list(vuln.get("urls") or vuln.get("links"))]
    if vuln.get("dataSource") and str(vuln["dataSource"]) not in references:
        references.insert(0, str(vuln["dataSource"]))
    path = _first_path(package)
    location = f"{artifact_name}:{path}" if artifact_name and path else (artifact_name or path)
    matchers = [
        str(d.get("matcher") or "")
        for d in as_list(match.get("matchDetails"))
        if isinstance(d, dict)
    ]
    finding = FindingData(
        tool=TOOL,
        severity=named_severity(severity),
        title=f"{vuln_id} in {name} {version}".strip(),
        rule_id=vuln_id,
        description=text(description),
        remediation=f"Upgrade {name} to {fixed}." if fixed else "",
        component=name,
        version=version,
        fixed_version=fixed,
        location=location,
        item=subject or artifact_name,
        evidence={
            "type": str(package.get("type") or ""),
            "purl": str(package.get("purl") or ""),
            "namespace": str(vuln.get("namespace") or ""),
            "fix_state": str(fix.get("state") or ""),
            "matchers": matchers,
            "cvss": vuln.get("cvss") or [],
        },
        references=references,
        vuln_ids=vuln_ids_in([vuln_id, *(r.get("id") for r in related)]),
        cwe_ids=cwe_ids(
            c.get("cwe") if isinstance(c, dict) else c for c in as_list(vuln.get("cwes"))
        ),
        has_fix=bool(fixed) or str(fix.get("state") or "") == "fixed",
    )
    epss = [e for e in as_list(vuln.get("epss")) if isinstance(e, dict)]
    if epss:
        finding.epss_score = probability(epss[0].get("epss"))
        finding.epss_percentile = probability(epss[0].get("percentile"))
    finding.is_kev = bool(as_list(vuln.get("knownExploited")))
    # The vulnerability's own CVSS first (the distro's), then the related NVD records'.
    records = [vuln, *related]
    vectors = [
        c.get("vector")
        for record in records
        for c in as_list(record.get("cvss"))
        if isinstance(c, dict)
    ]
    return cvss_fill(finding, vectors)


commands, run = planned_runner(TOOL, _plans, parse)
