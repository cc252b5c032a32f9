"""OSV-Scanner: known vulnerabilities in dependencies from lockfiles and SBOMs
(https://google.github.io/osv-scanner). Imported only.

Reads `osv-scanner --format json`: `{"results": [{"source": {"path", "type"}, "packages":
[{"package": {name, version, ecosystem}, "vulnerabilities": [OSV records], "groups": [{ids,
max_severity}]}]}]}`; `"results": []` and an empty file (what a run that found nothing may
leave) are clean. One finding per vulnerability group and package (OSV lists a vulnerability
and its aliases as one group: the group's first id is the rule id, the others its aliases):
severity from the group's `max_severity` (a CVSS score) else the record's
`database_specific.severity`, else the CVSS vectors; a malicious package (`MAL-` ids, which
carry no score) is critical; CVE/GHSA ids from ids and aliases, CWE ids,
the fixed versions of the affected ranges, references. Location = the lockfile (path normalized).
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import FindingData
from scans.engine.vulns import cvss_fill, cwe_ids, score_or_none, vuln_ids_in
from scans.tools.kit.detect import has_keys, json_document
from scans.tools.kit.reports import (
    ParsedReport,
    as_dict,
    as_list,
    bulk_parser,
    cvss_severity,
    load_json,
    named_severity,
    normalize_path,
    text,
)
from scans.tools.kit.tool import ReportFormat, Tool

TOOL = "osv_scanner"


def _is_osv_json(data: bytes) -> bool:
    document = json_document(data)
    if not has_keys(document, "results") or not isinstance(document["results"], list):
        return False
    first = document["results"][0] if document["results"] else None
    return (
        has_keys(first, "source", "packages")
        if first is not None
        else "experimental_config" in document
    )


NODE = Tool(
    type=TOOL,
    label="OSV-Scanner",
    group="Scan",
    icon="box",
    help="Vulnerable dependencies from OSV-Scanner reports (JSON).",
    order=56,
    imports_only=True,
    sarif_uri="https://google.github.io/osv-scanner",
    formats=(
        ReportFormat(
            name="osv-scanner-json",
            label="OSV-Scanner JSON",
            detect=_is_osv_json,
            command="osv-scanner scan --format json --output osv.json -r .",
            empty=("blank",),
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from `osv-scanner --format json`."""
    document = load_json(data, "OSV-Scanner")
    report = ParsedReport()
    for result in as_list(as_dict(document).get("results")):
        source = as_dict(as_dict(result).get("source"))
        path = normalize_path(source.get("path"))
        for entry in as_list(as_dict(result).get("packages")):
            package = as_dict(as_dict(entry).get("package"))
            records = {
                str(v.get("id")): v
                for v in as_list(entry.get("vulnerabilities"))
                if isinstance(v, dict)
            }
            groups = [as_dict(g) for g in as_list(entry.get("groups"))] or [
                {"ids": [key]} for key in records
            ]
            for group in groups:
                ids = [str(i) for i in as_list(group.get("ids"))]
                record = next((records[i] for i in ids if i in records), {})
                report.findings.append(_finding(ids, group, record, package, path, subject))
    return report


def _fixed(record: dict[str, Any], name: str) -> list[str]:
    fixed = []
    for affected in as_list(record.get("affected")):
        if as_dict(as_dict(affected).get("package")).get("name") not in (None, name):
            continue
        for found in as_list(as_dict(affected).get("ranges")):
            fixed += [
                str(e["fixed"])
                for e in as_list(as_dict(found).get("events"))
                if isinstance(e, dict) and e.get("fixed")
            ]
    return list(dict.fromkeys(fixed))


def _severity(group: dict[str, Any], record: dict[str, Any]) -> str:
    if str(record.get("id") or "").startswith("MAL-"):
        return "critical"  # a malicious package (OpenSSF's malicious-packages): no score, no doubt
    score = score_or_none(group.get("max_severity"))
    if score is not None:
        return cvss_severity(score)
    stated = as_dict(record.get("database_specific")).get("severity")
    if stated:
        return named_severity(stated)
    for affected in as_list(record.get("affected")):
        stated = as_dict(as_dict(affected).get("database_specific")).get("severity") or as_dict(
            as_dict(affected).get("ecosystem_specific")
        ).get("severity")
        if stated:
            return named_severity(stated)
    return "info"


def _finding(
    ids: list[str],
    group: dict[str, Any],
    record: dict[str, Any],
    package: dict[str, Any],
    path: str,
    subject: str,
) -> FindingData:
    name, version = str(package.get("name") or ""), str(package.get("version") or "")
    fixed = _fixed(record, name)
    aliases = [str(a) for a in as_list(record.get("aliases"))]
    cwes = [
        c.get("cweId")
        for a in as_list(record.get("affected"))
        for c in as_list(as_dict(as_dict(a).get("database_specific")).get("cwes"))
        if isinstance(c, dict)
    ]
    cwes += as_list(as_dict(record.get("database_specific")).get("cwe_ids"))
    rule = ids[0] if ids else str(record.get("id") or "")
    finding = FindingData(
        tool=TOOL,
        severity=_severity(group, record),
        title=text(record.get("summary") or f"{rule} in {name}", 500),
        rule_id=rule,
        description=text(record.get("details")),
        remediation=f"Upgrade {name} to {', '.join(fixed)}." if fixed else "",
        component=name,
        version=version,
        fixed_version=", ".join(fixed),
        location=path or subject,
        item=subject,
        evidence={
            "ecosystem": str(package.get("ecosystem") or ""),
            "ids": ids,
            "max_severity": str(group.get("max_severity") or ""),
        },
        references=[
            str(as_dict(r).get("url"))
            for r in as_list(record.get("references"))
            if as_dict(r).get("url")
        ],
        cwe_ids=cwe_ids(cwes),
        vuln_ids=vuln_ids_in([*ids, *aliases]),
        has_fix=bool(fixed),
    )
    vectors = [str(as_dict(s).get("score") or "") for s in as_list(record.get("severity"))]
    cvss_fill(finding, vectors)
    if finding.severity == "info" and finding.cvss_v3_score is not None:
        finding.severity = cvss_severity(finding.cvss_v3_score)
    return finding
