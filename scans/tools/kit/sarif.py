"""Reading SARIF 2.1.0 (OASIS), the format many tools write besides their own: a log of `runs`,
each naming its tool (`tool.driver.name`) with `results` against `rules`.

A tool module claims the SARIF of its own driver (`sarif_format("Trivy", …)`); the generic
`sarif` module takes any other. One finding per result (repeats of a rule at one place counted
as occurrences): rule id = `ruleId` (or the rule's `id` through `ruleIndex`); severity from the
`security-severity` score (result or rule properties, the CVSS bands) when there is one, else
from `level` (the result's, else the rule's default: error → high, warning → medium, note →
low, none → info; SARIF's own default is warning); location = the first physical location
`path:line`, else its logical location; title = the rule's short description, else the first
line of the message; CWE ids from tags (`external/cwe/cwe-79`, `CWE-79`) and properties; CVE and
GHSA ids from the rule id and tags; references = the rule's `helpUri`. Results of `kind` "pass"
or "notApplicable" are not findings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from scans.engine.runtime import FindingData
from scans.engine.vulns import cwe_ids, score_or_none, vuln_ids_in
from scans.tools.kit.detect import json_document
from scans.tools.kit.reports import (
    ParsedReport,
    as_list,
    cvss_severity,
    dedupe,
    load_json,
    normalize_path,
    text,
)
from scans.tools.kit.tool import ReportFormat

# Results SARIF says are no problem: a rule that passed, or one that does not apply.
NOT_FINDINGS = {"pass", "notApplicable"}
LEVELS = {"error": "high", "warning": "medium", "note": "low", "none": "info"}
_CWE_TAG = re.compile(r"cwe[-_/:]?(\d{1,5})", re.IGNORECASE)
_SLUG = re.compile(r"[^a-z0-9_.-]+")


def is_sarif(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("runs"), list)
        and (
            str(document.get("version") or "").startswith("2.1")
            or "sarif" in str(document.get("$schema") or "").lower()
        )
    )


def driver_names(document: Any) -> set[str]:
    """The lower-cased driver names of a SARIF log's runs."""
    names = set()
    for run in document.get("runs") or []:
        driver = ((run or {}).get("tool") or {}).get("driver") or {}
        names.add(str(driver.get("name") or "").strip().lower())
    return names


def sarif_detector(*drivers: str) -> Callable[[bytes], bool]:
    """A detector for the SARIF logs whose every run is by one of `drivers` (lower-case)."""
    wanted = {name.lower() for name in drivers}

    def detect(data: bytes) -> bool:
        document = json_document(data)
        if not is_sarif(document):
            return False
        names = driver_names(document)
        return bool(names) and names <= wanted

    return detect


def sarif_format(tool: str, *drivers: str, command: str) -> ReportFormat:
    """A tool's own SARIF output: the runs of its driver, parsed as that tool's findings."""

    def parse(data: bytes, *, subject: str = "") -> ParsedReport:
        return sarif_parse(data, subject=subject, tool=tool)

    return ReportFormat(
        name=f"{tool}-sarif",
        label=f"{drivers[0]} SARIF",
        detect=sarif_detector(*(name.lower() for name in drivers)),
        command=command,
        parse=parse,
    )


def tool_slug(name: str) -> str:
    """A driver name as a finding's tool ("Shell Script Analysis" → "shell-script-analysis")."""
    return _SLUG.sub("-", name.strip().lower()).strip("-")[:40] or "sarif"


def sarif_parse(data: bytes, *, subject: str = "", tool: str = "") -> ParsedReport:
    """Findings from a SARIF 2.1.0 log; `tool` names them (else each run's driver does)."""
    document = load_json(data, "SARIF")
    if not is_sarif(document):
        raise ValueError("not a SARIF report: expected a SARIF 2.1.0 log with runs")
    report = ParsedReport()
    for run in document["runs"]:
        if not isinstance(run, dict):
            raise ValueError("not a SARIF report: a run is not an object")
        driver = (run.get("tool") or {}).get("driver") or {}
        name = tool or tool_slug(str(driver.get("name") or ""))
        rules = _rules(run)
        for result in as_list(run.get("results")):
            if not isinstance(result, dict):
                raise ValueError("not a SARIF report: a result is not an object")
            if result.get("kind") in NOT_FINDINGS:
                continue
            report.findings.append(_finding(result, rules, name, subject))
    report.findings = dedupe(report.findings)
    return report


def _rules(run: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    driver = (run.get("tool") or {}).get("driver") or {}
    listed = [rule for rule in as_list(driver.get("rules")) if isinstance(rule, dict)]
    for extension in as_list((run.get("tool") or {}).get("extensions")):
        if isinstance(extension, dict):
            listed += [rule for rule in as_list(extension.get("rules")) if isinstance(rule, dict)]
    return {str(rule.get("id")): rule for rule in listed if rule.get("id")}, listed


def _message(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text") or value.get("markdown") or "")
    return str(value or "")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _snippet(result: dict[str, Any]) -> str:
    locations = [loc for loc in as_list(result.get("locations")) if isinstance(loc, dict)]
    if not locations:
        return ""
    region = _dict(_dict(locations[0].get("physicalLocation")).get("region"))
    return text(_dict(region.get("snippet")).get("text"), 2000)


def _location(result: dict[str, Any]) -> tuple[str, str, Any]:
    for location in as_list(result.get("locations")):
        if not isinstance(location, dict):
            continue
        physical = location.get("physicalLocation") or {}
        artifact = physical.get("artifactLocation") or {}
        uri = str(artifact.get("uri") or "")
        if uri:
            path = normalize_path(re.sub(r"^file://", "", uri))
            line = (physical.get("region") or {}).get("startLine")
            return (f"{path}:{line}" if line else path), path, line
        for logical in as_list(location.get("logicalLocations")):
            if isinstance(logical, dict) and (
                logical.get("fullyQualifiedName") or logical.get("name")
            ):
                return str(logical.get("fullyQualifiedName") or logical.get("name")), "", None
    return "", "", None


def _finding(
    result: dict[str, Any],
    rules: tuple[dict[str, dict[str, Any]], list[dict[str, Any]]],
    tool: str,
    subject: str,
) -> FindingData:
    by_id, listed = rules
    rule_id = str(result.get("ruleId") or (result.get("rule") or {}).get("id") or "")
    rule = by_id.get(rule_id)
    index = result.get("ruleIndex", (result.get("rule") or {}).get("index"))
    if rule is None and isinstance(index, int) and 0 <= index < len(listed):
        rule = listed[index]
        rule_id = rule_id or str(rule.get("id") or "")
    rule = rule or {}
    rule_properties = _dict(rule.get("properties"))
    properties = _dict(result.get("properties"))
    score = score_or_none(
        properties.get("security-severity") or rule_properties.get("security-severity")
    )
    default = (rule.get("defaultConfiguration") or {}).get("level")
    level = str(result.get("level") or default or "warning").lower()
    severity = cvss_severity(score) if score is not None else LEVELS.get(level, "medium")
    message = text(_message(result.get("message")))
    short = _message(rule.get("shortDescription")) or _message(rule.get("name"))
    title = text(short or message.splitlines()[0] if (short or message) else rule_id, 500)
    location, path, line = _location(result)
    tags = [str(t) for t in as_list(rule_properties.get("tags")) + as_list(properties.get("tags"))]
    cwes = [f"CWE-{m}" for t in tags for m in _CWE_TAG.findall(t)]
    cwes += [str(c) for c in as_list(rule_properties.get("cwe") or properties.get("cwe"))]
    help_uri = str(rule.get("helpUri") or "")
    return FindingData(
        tool=tool,
        severity=severity,
        title=title or rule_id or "SARIF result",
        rule_id=rule_id,
        description=text(
            "\n\n".join(filter(None, (message, _message(rule.get("fullDescription")))))
        ),
        remediation=text(_message(rule.get("help"))),
        location=location or subject,
        item=subject,
        evidence={
            "file": path,
            "line": line or "",
            "level": level,
            "security_severity": score if score is not None else "",
            "snippet": _snippet(result),
        },
        references=[help_uri] if help_uri else [],
        tags=[t for t in tags if not _CWE_TAG.search(t)][:20],
        cwe_ids=cwe_ids(cwes),
        vuln_ids=vuln_ids_in([rule_id, *tags]),
    )
