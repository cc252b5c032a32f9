"""A scan's findings as CSV (streamed) and SARIF 2.1.0 (for code-scanning UIs and CI).

CSV: one row per finding, worst first, written while the rows are read from the database
(`iterator()`), so a scan with a million findings never sits in memory. Cells that a spreadsheet
would run as a formula (starting with = + - @ tab CR) get a leading apostrophe (CSV injection).

SARIF: one run per tool (a run is one tool's analysis), one rule per rule id, one result per
finding. Code-scanning UIs want a physical location on every result, so findings about hosts,
URLs and images get one too: a URL as is, `file:line` as a file with a region, anything else
(host:port, an image) percent-encoded into a relative URI, with the original kept as a logical
location. The severity becomes the result `level` and the rule's `security-severity` (GitHub's
scale); false positives and accepted findings carry a suppression.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from django.db.models import QuerySet
from django.http import HttpResponseBase, JsonResponse, StreamingHttpResponse

from scans.models import Finding, Scan
from scans.tools import tool_get

CSV_COLUMNS = [
    "id", "scan", "severity", "status", "tool", "rule_id", "title", "location", "item", "component",
    "version", "fixed_version", "has_fix", "cvss_score", "cvss_v3_score", "cvss_v3_vector",
    "cvss_v4_score", "cvss_v4_vector", "cwe_ids", "vuln_ids", "epss_score", "epss_percentile",
    "is_kev", "fingerprint", "first_seen_at", "last_seen_at", "description", "remediation",
    "references",
]  # fmt: skip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
# GitHub: >= 9.0 critical, >= 7.0 high, >= 4.0 medium, > 0 low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)
_FILE_LINE = re.compile(r"^(?P<path>[^\s:]*[/.][^\s:]*)(?::(?P<line>\d+))?(?::\d+)?$")
_HOSTISH = re.compile(
    r"^\[?[0-9a-f:.]+\]?(:\d+)?(/\w+)?$|^[a-z0-9-]+(\.[a-z0-9-]+)+:\d+(/\w+)?$", re.I
)


def _tool_uri(tool: str) -> str:
    """The tool's home page as its module declares it (`NODE.sarif_uri`); "" for a finding of a
    tool Outpost no longer has."""
    try:
        return tool_get(tool).sarif_uri
    except KeyError:
        return ""


def scan_findings_ordered(scan: Scan) -> QuerySet[Finding]:
    """The scan's findings, worst first (the order of every export)."""
    return Finding.objects.filter(scan=scan).order_by("-severity_rank", "title", "id")


# --- CSV ----------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def csv_rows(findings: Iterable[Finding]) -> Iterator[str]:
    """CSV lines (header first) for these findings, produced one at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for f in findings:
        yield writer.writerow(
            [
                f.pk, f.scan_id, f.severity, f.status, _cell(f.tool), _cell(f.rule_id),
                _cell(f.title), _cell(f.location), _cell(f.item), _cell(f.component),
                _cell(f.version), _cell(f.fixed_version), _bool(f.has_fix), _num(f.cvss_score),
                _num(f.cvss_v3_score), f.cvss_v3_vector, _num(f.cvss_v4_score), f.cvss_v4_vector,
                " ".join(f.cwe_ids or []), " ".join(f.vuln_ids or []), _num(f.epss_score),
                _num(f.epss_percentile), _bool(f.is_kev), f.fingerprint,
                f.first_seen_at.isoformat(), f.last_seen_at.isoformat(), _cell(f.description),
                _cell(f.remediation), _cell(" ".join(str(r) for r in f.references or [])),
            ]
        )  # fmt: skip


def scan_csv_stream(scan: Scan) -> Iterator[str]:
    return csv_rows(scan_findings_ordered(scan).iterator(chunk_size=2000))


# --- SARIF --------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "scan"


def _rule_id(f: Finding) -> str:
    return f.rule_id.strip() or _slug(f.title or "finding")


def sarif_location(where: str, *, fallback: str) -> dict[str, Any]:
    """A SARIF location for an Outpost location string (see the module docstring)."""
    where = where.strip() or fallback
    if _URL.match(where):
        return {
            "physicalLocation": {"artifactLocation": {"uri": where}, "region": {"startLine": 1}}
        }
    match = _FILE_LINE.match(where)
    if match and not _HOSTISH.match(where) and not where.startswith("/"):
        line = int(match.group("line") or 1)
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": quote(match.group("path"), safe="/._-~")},
                "region": {"startLine": max(line, 1)},
            }
        }
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": quote(where.lstrip("/"), safe="/._-~@")},
            "region": {"startLine": 1},
        },
        "logicalLocations": [{"fullyQualifiedName": where, "kind": "resource"}],
    }


def _message(f: Finding) -> str:
    parts = [f.title or _rule_id(f)]
    if f.component:
        version = f" {f.version}" if f.version else ""
        fixed = f" (fixed in {f.fixed_version})" if f.fixed_version else ""
        parts.append(f"{f.component}{version}{fixed}")
    if f.location:
        parts.append(f"at {f.location}")
    return " — ".join(parts)


def _security_severity(f: Finding) -> str:
    """The CVSS base score when the finding has one (what GitHub ranks by), else one standing
    for the severity."""
    if f.cvss_score is not None:
        return f"{f.cvss_score:.1f}"
    return SECURITY_SEVERITY.get(f.severity, "0.0")


def _vulnerability_properties(f: Finding) -> dict[str, Any]:
    """The structured fields a SARIF result carries in its property bag (only those set)."""
    props: dict[str, Any] = {}
    if f.cvss_v3_vector or f.cvss_v3_score is not None:
        props["cvssV3"] = {"vector": f.cvss_v3_vector, "baseScore": f.cvss_v3_score}
    if f.cvss_v4_vector or f.cvss_v4_score is not None:
        props["cvssV4"] = {"vector": f.cvss_v4_vector, "baseScore": f.cvss_v4_score}
    if f.cwe_ids:
        props["cwe"] = list(f.cwe_ids)
    if f.vuln_ids:
        props["vulnerabilityIds"] = list(f.vuln_ids)
    if f.epss_score is not None:
        props["epss"] = {"score": f.epss_score, "percentile": f.epss_percentile}
    if f.is_kev:
        props["knownExploited"] = True
    if f.component:
        props["component"] = {"name": f.component, "installedVersion": f.version,
                              "fixedVersion": f.fixed_version, "fixAvailable": f.has_fix}  # fmt: skip
    return props


def _rule(f: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": _rule_id(f),
        "name": _slug(_rule_id(f)).replace("-", "_") or "finding",
        "shortDescription": {"text": (f.title or _rule_id(f))[:1000]},
        "fullDescription": {"text": (f.description or f.title or _rule_id(f))[:10000]},
        "defaultConfiguration": {"level": SARIF_LEVELS.get(f.severity, "note")},
        "properties": {
            "security-severity": _security_severity(f),
            # GitHub's code scanning reads CWE tags in this form.
            "tags": ["security", f.tool, *(f"external/cwe/{c.lower()}" for c in f.cwe_ids or [])],
        },
    }
    help_text = f.remediation or (
        f"Upgrade {f.component} to {f.fixed_version}." if f.fixed_version else ""
    )
    if help_text:
        rule["help"] = {"text": help_text[:10000]}
    urls = [r for r in f.references or [] if isinstance(r, str) and _URL.match(r)]
    if urls:
        rule["helpUri"] = urls[0]
    return rule


def scan_sarif(scan: Scan, findings: Iterable[Finding] | None = None) -> dict[str, Any]:
    """The scan's findings as a SARIF 2.1.0 log."""
    runs: dict[str, dict[str, Any]] = {}
    rule_index: dict[tuple[str, str], int] = {}
    category = f"outpost/{_slug(scan.workflow_name or scan.source)}"
    fallback = f"outpost-scan-{scan.pk}"
    for f in (
        scan_findings_ordered(scan).iterator(chunk_size=2000) if findings is None else findings
    ):
        tool = f.tool or "outpost"
        run = runs.get(tool)
        if run is None:
            driver: dict[str, Any] = {"name": tool, "organization": "Outpost", "rules": []}
            uri = _tool_uri(tool)
            if uri:
                driver["informationUri"] = uri
            run = runs[tool] = {
                "tool": {"driver": driver},
                "automationDetails": {"id": f"{category}/{_slug(tool)}/scan-{scan.pk}"},
                "results": [],
            }
        key = (tool, _rule_id(f))
        rules = run["tool"]["driver"]["rules"]
        if key not in rule_index:
            rule_index[key] = len(rules)
            rules.append(_rule(f))
        else:
            rule = rules[rule_index[key]]
            if float(_security_severity(f)) > float(rule["properties"]["security-severity"]):
                rule["properties"]["security-severity"] = _security_severity(f)
                rule["defaultConfiguration"]["level"] = SARIF_LEVELS[f.severity]
        result: dict[str, Any] = {
            "ruleId": key[1],
            "ruleIndex": rule_index[key],
            "level": SARIF_LEVELS.get(f.severity, "note"),
            "message": {"text": _message(f)[:10000]},
            "locations": [sarif_location(f.location or f.item, fallback=fallback)],
            "partialFingerprints": {"outpostFingerprint/v1": f.fingerprint},
            "properties": {
                "severity": f.severity,
                "status": f.status,
                "firstSeen": f.first_seen_at.isoformat(),
                "outpostFindingId": f.pk,
                **_vulnerability_properties(f),
            },
        }
        if f.tags:
            result["properties"]["tags"] = [str(t) for t in f.tags]
        if f.status in (Finding.Status.FALSE_POSITIVE, Finding.Status.ACCEPTED):
            result["suppressions"] = [
                {"kind": "external", "status": "accepted", "justification": f.get_status_display()}
            ]
        run["results"].append(result)
    if not runs:
        # An empty log still names its producer, so an upload shows "0 results", not an error.
        runs["outpost"] = {
            "tool": {"driver": {"name": "outpost", "organization": "Outpost", "rules": []}},
            "automationDetails": {"id": f"{category}/outpost/scan-{scan.pk}"},
            "results": [],
        }
    return {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": list(runs.values())}


def scan_export_response(scan: Scan, fmt: str) -> HttpResponseBase:
    """The HTTP response of `?format=csv|sarif` (a download named after the scan)."""
    if fmt == "csv":
        response: HttpResponseBase = StreamingHttpResponse(
            scan_csv_stream(scan), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="outpost-scan-{scan.pk}.csv"'
        return response
    response = JsonResponse(scan_sarif(scan), content_type="application/sarif+json")
    response["Content-Disposition"] = f'attachment; filename="outpost-scan-{scan.pk}.sarif"'
    return response
