"""WPScan: WordPress security scanner (https://wpscan.com). Imported only.

Reads `wpscan --format json` (3.x): `{target_url, effective_url, interesting_findings,
version, main_theme, themes, plugins, …}`. A report with `scan_aborted` is refused with WPScan's
reason (the site was not scanned: importing it as a clean scan would be false).

Findings:
- every vulnerability WPScan lists for the WordPress version, the main theme, other themes and
  plugins: rule id = its CVE when it has one, else its WPVulnDB id, else its title; severity from
  its CVSS score when the report carries one (WPScan's JSON has no severity word), else
  medium; the component (wordpress, the theme or plugin slug), the installed and fixed
  versions, references (URLs, CVE, WPVulnDB);
- an outdated WordPress, theme or plugin (`status: insecure` / `outdated: true`): low;
- each interesting finding (headers, readme, XML-RPC, upload directory listing…): info.
Location = the URL of the component (or the site). The site is recorded in the inventory with
WordPress and its version as a technology.
"""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import FindingData
from scans.engine.vulns import cvss_fill, score_or_none, vuln_ids_in
from scans.tools.kit.detect import has_keys, json_document
from scans.tools.kit.reports import (
    ParsedReport,
    as_dict,
    as_list,
    bulk_parser,
    cvss_severity,
    load_json,
    text,
)
from scans.tools.kit.tool import ReportFormat, Tool
from scans.tools.kit.values import url_or_blank
from targets.items import Item

TOOL = "wpscan"


def _is_wpscan_json(data: bytes) -> bool:
    document = json_document(data)
    return has_keys(document, "target_url") and (
        "WPScan" in str(as_dict(document.get("banner")).get("description") or "")
        or has_keys(document, "interesting_findings")
    )


NODE = Tool(
    type=TOOL,
    label="WPScan",
    group="Scan",
    icon="crosshair",
    help="WordPress core, theme and plugin vulnerabilities from WPScan reports (JSON).",
    order=57,
    imports_only=True,
    sarif_uri="https://wpscan.com",
    formats=(
        ReportFormat(
            name="wpscan-json",
            label="WPScan JSON",
            detect=_is_wpscan_json,
            command="wpscan --url https://example.com --format json --output wpscan.json",
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from `wpscan --format json`."""
    document = as_dict(load_json(data, "WPScan"))
    if document.get("scan_aborted"):
        raise ValueError(
            f"WPScan aborted this scan, so it says nothing about the site: {text(document['scan_aborted'], 300)}"
        )
    site = url_or_blank(document.get("effective_url") or document.get("target_url"))
    report = ParsedReport()
    version = as_dict(document.get("version"))
    if site:
        technologies = [{"name": "WordPress", "version": str(version.get("number") or "")}]
        report.assets.append(Item("url", site, {"technologies": technologies}))
    for finding in as_list(document.get("interesting_findings")):
        report.findings.append(_interesting(as_dict(finding), site, subject))
    if version:
        _component(report, "wordpress", version, site, subject, str(version.get("number") or ""))
    components = [as_dict(document.get("main_theme"))]
    components += list(as_dict(document.get("themes")).values()) + list(
        as_dict(document.get("plugins")).values()
    )
    for component in components:
        if component:
            entry = as_dict(component)
            installed = str(as_dict(entry.get("version")).get("number") or "")
            _component(
                report,
                str(entry.get("slug") or ""),
                entry,
                url_or_blank(entry.get("location")) or site,
                subject,
                installed,
            )
    return report


def _interesting(finding: dict[str, Any], site: str, subject: str) -> FindingData:
    url = url_or_blank(finding.get("url")) or site
    kind = str(finding.get("type") or "interesting")
    entries = [str(e) for e in as_list(finding.get("interesting_entries"))]
    return FindingData(
        tool=TOOL,
        severity="info",
        title=text(f"{kind}: {finding.get('to_s') or url}", 500),
        rule_id=f"interesting-{kind}",
        description=text("\n".join([str(finding.get("to_s") or ""), *entries])),
        location=url,
        item=url or subject,
        evidence={
            "found_by": str(finding.get("found_by") or ""),
            "confidence": finding.get("confidence") or "",
            "entries": entries,
        },
        references=[str(u) for u in as_list(as_dict(finding.get("references")).get("url"))],
        tags=["wordpress"],
    )


def _component(
    report: ParsedReport, name: str, entry: dict[str, Any], url: str, subject: str, installed: str
) -> None:
    latest = str(entry.get("latest_version") or "")
    if entry.get("status") == "insecure" or entry.get("outdated") is True:
        report.findings.append(
            FindingData(
                tool=TOOL,
                severity="low",
                title=text(f"Outdated {name} {installed}".strip(), 500),
                rule_id="outdated",
                description=f"{name} {installed} is not the latest version ({latest or 'a newer one exists'}).",
                remediation=f"Upgrade {name} to {latest}." if latest else f"Upgrade {name}.",
                component=name,
                version=installed,
                fixed_version=latest,
                location=url,
                item=url or subject,
                tags=["wordpress"],
            )
        )
    for vuln in as_list(entry.get("vulnerabilities")):
        report.findings.append(_vulnerability(as_dict(vuln), name, installed, url, subject))


def _vulnerability(
    vuln: dict[str, Any], name: str, installed: str, url: str, subject: str
) -> FindingData:
    refs = as_dict(vuln.get("references"))
    cves = [
        f"CVE-{c}" if not str(c).upper().startswith("CVE-") else str(c)
        for c in as_list(refs.get("cve"))
    ]
    wpvulndb = [str(i) for i in as_list(refs.get("wpvulndb"))]
    title = text(vuln.get("title"), 500)
    fixed = str(vuln.get("fixed_in") or "")
    score = score_or_none(as_dict(vuln.get("cvss")).get("score"))
    finding = FindingData(
        tool=TOOL,
        severity=cvss_severity(score) if score is not None else "medium",
        title=title,
        rule_id=(cves[0] if cves else "") or (f"WPVDB-{wpvulndb[0]}" if wpvulndb else title[:200]),
        description=text(vuln.get("description") or title),
        remediation=f"Upgrade {name} to {fixed} or later." if fixed else "",
        component=name,
        version=installed,
        fixed_version=fixed,
        location=url,
        item=url or subject,
        evidence={"wpvulndb": wpvulndb},
        references=[str(u) for u in as_list(refs.get("url"))]
        + [f"https://wpscan.com/vulnerability/{i}" for i in wpvulndb],
        vuln_ids=vuln_ids_in(cves),
        tags=["wordpress"],
        has_fix=bool(fixed),
    )
    vector = str(as_dict(vuln.get("cvss")).get("vector") or "")
    return cvss_fill(finding, [vector] if vector else [])
