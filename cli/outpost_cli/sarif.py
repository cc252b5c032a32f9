"""Outpost findings → SARIF 2.1.0, for servers without their own `?format=sarif` export.

One run per tool (SARIF's model: a run is one tool's analysis), one rule per rule id, one result
per finding. GitHub code scanning reads `security-severity` from the rule's properties and the
level from the result; both come from Outpost's severity. Findings are about hosts, URLs and
images as well as files: a file path (optionally `:line`) or a URL becomes a physical location,
anything else (host:port, an image package) a logical location.
"""

from __future__ import annotations

import re
from typing import Any

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub's scale: >= 9.0 critical, >= 7.0 high, >= 4.0 medium, > 0 low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}
SEVERITY_ORDER = ["info", "low", "medium", "high", "critical"]

_FILE_LINE = re.compile(
    r"^(?P<path>[^\s:]+(?:/[^\s:]+)*\.[A-Za-z0-9_+-]+|[^\s:]*/[^\s:]+)(?::(?P<line>\d+))?$"
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)


def _rule_id(finding: dict[str, Any]) -> str:
    rule = str(finding.get("rule_id") or "").strip()
    if rule:
        return rule
    slug = re.sub(r"[^a-z0-9]+", "-", str(finding.get("title") or "finding").lower()).strip("-")
    return slug[:100] or "finding"


def _location(finding: dict[str, Any]) -> dict[str, Any] | None:
    where = str(finding.get("location") or "").strip()
    if not where:
        item = finding.get("item")
        where = str(item.get("value") if isinstance(item, dict) else item or "").strip()
    if not where:
        return None
    if _URL.match(where):
        return {"physicalLocation": {"artifactLocation": {"uri": where}}}
    match = _FILE_LINE.match(where)
    if match:
        physical: dict[str, Any] = {"artifactLocation": {"uri": match.group("path")}}
        if match.group("line") and int(match.group("line")) > 0:
            physical["region"] = {"startLine": int(match.group("line"))}
        return {"physicalLocation": physical}
    return {"logicalLocations": [{"fullyQualifiedName": where, "kind": "resource"}]}


def _message(finding: dict[str, Any]) -> str:
    parts = [str(finding.get("title") or _rule_id(finding))]
    component = finding.get("component")
    if component:
        version = f" {finding['version']}" if finding.get("version") else ""
        fixed = f" (fixed in {finding['fixed_version']})" if finding.get("fixed_version") else ""
        parts.append(f"{component}{version}{fixed}")
    if finding.get("location"):
        parts.append(f"at {finding['location']}")
    return " — ".join(parts)


def _worse(a: str, b: str) -> str:
    return max(a, b, key=lambda s: SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else 0)


def sarif_from_findings(
    findings: list[dict[str, Any]], *, scan: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of `findings` (the API's finding objects), one run per tool."""
    runs: dict[str, dict[str, Any]] = {}
    rule_index: dict[tuple[str, str], int] = {}
    for finding in findings:
        tool = str(finding.get("tool") or "outpost")
        run = runs.setdefault(
            tool,
            {"tool": {"driver": {"name": tool, "rules": []}}, "results": []},
        )
        severity = str(finding.get("severity") or "info")
        rule_id = _rule_id(finding)
        rules = run["tool"]["driver"]["rules"]
        key = (tool, rule_id)
        if key not in rule_index:
            rule: dict[str, Any] = {
                "id": rule_id,
                "shortDescription": {"text": str(finding.get("title") or rule_id)[:1000]},
                "properties": {
                    "security-severity": SECURITY_SEVERITY.get(severity, "0.0"),
                    "outpost-severity": severity,
                },
            }
            if finding.get("description"):
                rule["fullDescription"] = {"text": str(finding["description"])[:10000]}
            if finding.get("remediation"):
                rule["help"] = {"text": str(finding["remediation"])[:10000]}
            references = [
                r for r in finding.get("references") or [] if isinstance(r, str) and _URL.match(r)
            ]
            if references:
                rule["helpUri"] = references[0]
            rule_index[key] = len(rules)
            rules.append(rule)
        else:
            rule = rules[rule_index[key]]
            worst = _worse(rule["properties"]["outpost-severity"], severity)
            rule["properties"].update(
                {
                    "outpost-severity": worst,
                    "security-severity": SECURITY_SEVERITY.get(worst, "0.0"),
                }
            )
        result: dict[str, Any] = {
            "ruleId": rule_id,
            "ruleIndex": rule_index[key],
            "level": LEVELS.get(severity, "note"),
            "message": {"text": _message(finding)},
            "properties": {"severity": severity, "status": finding.get("status", "open")},
        }
        location = _location(finding)
        if location:
            result["locations"] = [location]
        if finding.get("fingerprint"):
            result["partialFingerprints"] = {"outpostFingerprint/v1": str(finding["fingerprint"])}
        if finding.get("tags"):
            result["properties"]["tags"] = [str(t) for t in finding["tags"]]
        if finding.get("status") in ("false_positive", "accepted"):
            result["suppressions"] = [
                {"kind": "external", "status": "accepted", "justification": str(finding["status"])}
            ]
        run["results"].append(result)

    if not runs:
        # An empty log still names its producer, so an upload shows "0 results", not an error.
        runs["outpost"] = {"tool": {"driver": {"name": "outpost", "rules": []}}, "results": []}
    if scan is not None and scan.get("id") is not None:
        for run in runs.values():
            run["automationDetails"] = {"id": f"outpost/scan/{scan['id']}/"}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": list(runs.values())}
