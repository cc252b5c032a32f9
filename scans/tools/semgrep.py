"""Semgrep: static analysis of source code (https://semgrep.dev). Imported only.

Reads `semgrep --json` (`{"results": [{check_id, path, start, end, extra: {message, severity,
metadata, lines, fix}}], "errors", "version"}`; `"results": []` is a clean run) and
`semgrep --sarif` (driver "Semgrep", "Semgrep OSS" or "Semgrep Pro", the generic SARIF reader). One finding per rule and
file:line: rule id = `check_id`, severity from `extra.severity` (ERROR → high, WARNING → medium,
INFO → info, and the CRITICAL/HIGH/MEDIUM/LOW of Semgrep's newer rules as they are), title = the
message's first sentence, CWE ids and references from the metadata, the matched lines and the
suggested fix as evidence (the lines capped: a secret rule's match may hold a secret, which
Semgrep's own `lines` shows only when asked for).
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import FindingData
from scans.engine.vulns import cwe_ids
from scans.tools.kit.detect import has_keys, json_document
from scans.tools.kit.reports import (
    ParsedReport,
    as_dict,
    as_list,
    bulk_parser,
    load_json,
    named_severity,
    normalize_path,
    text,
)
from scans.tools.kit.sarif import sarif_format
from scans.tools.kit.tool import ReportFormat, Tool

TOOL = "semgrep"
LEVELS = {"ERROR": "high", "WARNING": "medium", "INFO": "info"}


def _is_semgrep_json(data: bytes) -> bool:
    document = json_document(data)
    if not has_keys(document, "results") or not isinstance(document["results"], list):
        return False
    first = document["results"][0] if document["results"] else None
    if first is None:
        return "errors" in document and ("version" in document or "paths" in document)
    return has_keys(first, "check_id", "path", "extra")


NODE = Tool(
    type=TOOL,
    label="Semgrep",
    group="Scan",
    icon="branch",
    help="Code findings from Semgrep reports (JSON, SARIF).",
    order=55,
    imports_only=True,
    sarif_uri="https://semgrep.dev",
    formats=(
        ReportFormat(
            name="semgrep-json",
            label="Semgrep JSON",
            detect=_is_semgrep_json,
            command="semgrep scan --config auto --json --output semgrep.json",
        ),
        sarif_format(
            TOOL,
            "Semgrep",
            "Semgrep OSS",
            "Semgrep Pro",
            command="semgrep scan --config auto --sarif --output semgrep.sarif",
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from `semgrep --json`."""
    document = load_json(data, "Semgrep")
    if not has_keys(document, "results"):
        raise ValueError("not a Semgrep report: it has no results")
    report = ParsedReport()
    for result in as_list(document["results"]):
        if not isinstance(result, dict) or "check_id" not in result:
            raise ValueError("not a Semgrep report: a result has no check_id")
        report.findings.append(_finding(result, subject))
    errors = as_list(document.get("errors"))
    if errors:
        report.notes.append(
            f"Semgrep reported {len(errors)} error(s) (files or rules it could not read)"
        )
    return report


def _finding(result: dict[str, Any], subject: str) -> FindingData:
    extra = as_dict(result.get("extra"))
    metadata = as_dict(extra.get("metadata"))
    path = normalize_path(result.get("path"))
    line = as_dict(result.get("start")).get("line")
    message = text(extra.get("message"))
    word = str(extra.get("severity") or "").upper()
    references = [str(r) for r in as_list(metadata.get("references"))]
    references += [
        str(metadata[key])
        for key in ("source", "shortlink", "source-rule-url")
        if metadata.get(key)
    ]
    rule = str(result.get("check_id") or "")
    return FindingData(
        tool=TOOL,
        severity=LEVELS.get(word) or named_severity(word),
        title=text(message.split("\n")[0].split(". ")[0] or rule.rsplit(".", 1)[-1], 500),
        rule_id=rule,
        description=message,
        remediation=text(extra.get("fix")),
        location=f"{path}:{line}" if line else path,
        item=subject,
        evidence={
            key: value
            for key, value in {
                "file": path,
                "line": line or "",
                "end_line": as_dict(result.get("end")).get("line") or "",
                "lines": text(extra.get("lines"), 2000),
                "owasp": [str(o) for o in as_list(metadata.get("owasp"))],
                "confidence": str(metadata.get("confidence") or ""),
            }.items()
            if value
        },
        references=references,
        tags=[str(t) for t in as_list(metadata.get("category"))],
        cwe_ids=cwe_ids(as_list(metadata.get("cwe"))),
    )
