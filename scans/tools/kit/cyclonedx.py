"""Reading CycloneDX BOMs that carry vulnerabilities (VEX), JSON or XML, as findings.

Both places CycloneDX has kept vulnerabilities: the `vulnerabilities` list of spec 1.4 and later
(each with `affects` refs into `components`), and the vulnerability extension of specs 1.0 to 1.3
(`<v:vulnerabilities>` inside the affected `<component>`, grype 0.7 and jake). One finding per
vulnerability and affected component: rule id = the vulnerability id, component, version and
purl from the component, severity from the ratings (a stated severity first, else the highest
score through the CVSS bands; none at all is info), CVSS vectors (v3 vectors without their
`CVSS:3.x/` prefix get `CVSS:3.0/`), CWE ids, references (the source URL and advisories), the
recommendation as remediation. VEX analysis states `not_affected`, `false_positive` and
`resolved` mean the producer says the component is not vulnerable: those are left out and
counted in a note. A BOM without vulnerabilities is an SBOM with none known: an empty report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree.ElementTree import Element

from scans.engine.runtime import FindingData
from scans.engine.vulns import cvss_fill, cwe_ids, score_or_none, vuln_ids_in
from scans.tools.kit.detect import has_keys, json_document, xml_root
from scans.tools.kit.reports import (
    ParsedReport,
    as_list,
    cvss_severity,
    dedupe,
    load_json,
    load_xml,
    named_severity,
    text,
)
from scans.tools.kit.tool import ReportFormat

NOT_AFFECTED = {"not_affected", "false_positive", "resolved", "resolved_with_pedigree"}
_RANK = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}


def is_cyclonedx_json(document: Any) -> bool:
    return has_keys(document, "bomFormat") and document["bomFormat"] == "CycloneDX"


def is_cyclonedx_xml(data: bytes) -> bool:
    return xml_root(data) == "bom" and b"cyclonedx.org/schema/bom" in data[:4096]


def producer_names(data: bytes) -> set[str]:
    """The lower-cased names of the tools that wrote a BOM (metadata.tools)."""
    document = json_document(data)
    if is_cyclonedx_json(document):
        tools = (document.get("metadata") or {}).get("tools") or []
        if isinstance(tools, dict):  # spec 1.5: {"components": [...], "services": [...]}
            tools = as_list(tools.get("components")) + as_list(tools.get("services"))
        return {str((t or {}).get("name") or "").lower() for t in tools if isinstance(t, dict)}
    if is_cyclonedx_xml(data):
        head = data[:8192].decode("utf-8", errors="replace")
        block = re.search(r"<(?:\w+:)?tools>(.*?)</(?:\w+:)?tools>", head, re.DOTALL)
        if block:
            return {
                n.strip().lower() for n in re.findall(r"<(?:\w+:)?name>([^<]*)<", block.group(1))
            }
    return set()


def cyclonedx_detector(*producers: str) -> Callable[[bytes], bool]:
    """A detector for CycloneDX BOMs written by one of `producers` (lower-case); with none, any
    CycloneDX BOM."""

    def detect(data: bytes) -> bool:
        if not (is_cyclonedx_xml(data) or is_cyclonedx_json(json_document(data))):
            return False
        return not producers or bool(producer_names(data) & set(producers))

    return detect


def cyclonedx_format(tool: str, label: str, *producers: str, command: str) -> ReportFormat:
    """A tool's own CycloneDX output (its BOM with vulnerabilities), as that tool's findings."""

    def parse(data: bytes, *, subject: str = "") -> ParsedReport:
        return cyclonedx_parse(data, subject=subject, tool=tool)

    return ReportFormat(
        name=f"{tool}-cyclonedx",
        label=f"{label} CycloneDX",
        detect=cyclonedx_detector(*producers),
        command=command,
        parse=parse,
    )


def cyclonedx_parse(data: bytes, *, subject: str = "", tool: str = "cyclonedx") -> ParsedReport:
    """Findings from a CycloneDX BOM's vulnerabilities (JSON or XML)."""
    if is_cyclonedx_xml(data) or data.lstrip()[:1] == b"<":
        components, vulnerabilities = _from_xml(load_xml(data, "CycloneDX", "bom"))
    else:
        document = load_json(data, "CycloneDX")
        if not is_cyclonedx_json(document):
            raise ValueError('not a CycloneDX report: expected "bomFormat": "CycloneDX"')
        components = {}
        for component in _walk(as_list(document.get("components"))):
            ref = str(component.get("bom-ref") or "")
            if ref:
                components[ref] = component
        vulnerabilities = [
            (v, [str(a.get("ref") or "") for a in as_list(v.get("affects")) if isinstance(a, dict)])
            for v in as_list(document.get("vulnerabilities"))
            if isinstance(v, dict)
        ]
    report = ParsedReport()
    skipped = 0
    for vulnerability, refs in vulnerabilities:
        analysis = vulnerability.get("analysis")
        state = str(analysis.get("state") or "").lower() if isinstance(analysis, dict) else ""
        if state in NOT_AFFECTED:
            skipped += 1
            continue
        for ref in refs or [""]:
            report.findings.append(
                _finding(vulnerability, components.get(ref, {}), ref, tool, subject)
            )
    if skipped:
        report.notes.append(f"{skipped} vulnerabilities the BOM marks not affected were left out")
    report.findings = dedupe(report.findings)
    return report


def _walk(components: list[Any]) -> Iterator[dict[str, Any]]:
    for component in components:
        if isinstance(component, dict):
            yield component
            yield from _walk(as_list(component.get("components")))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: Element | None, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name] if element is not None else []


def _text(element: Element | None, name: str = "") -> str:
    found = _child(element, name) if (element is not None and name) else element
    return (found.text or "").strip() if found is not None else ""


def _from_xml(
    root: Element,
) -> tuple[dict[str, dict[str, Any]], list[tuple[dict[str, Any], list[str]]]]:
    components: dict[str, dict[str, Any]] = {}
    found: list[tuple[dict[str, Any], list[str]]] = []

    def visit(element: Element) -> None:
        for component in _children(element, "component"):
            record = {
                "name": _text(component, "name"),
                "version": _text(component, "version"),
                "purl": _text(component, "purl"),
                "group": _text(component, "group"),
            }
            ref = (
                component.get("bom-ref")
                or record["purl"]
                or f"{record['name']}@{record['version']}"
            )
            components[ref] = record
            for block in _children(component, "vulnerabilities"):  # the 1.0 extension
                for vulnerability in _children(block, "vulnerability"):
                    found.append((_xml_vulnerability(vulnerability), [ref]))
            visit(_child(component, "components") or Element("none"))

    visit(_child(root, "components") or Element("none"))
    for block in _children(root, "vulnerabilities"):
        for vulnerability in _children(block, "vulnerability"):
            refs = [
                _text(target, "ref")
                for target in _children(_child(vulnerability, "affects"), "target")
            ]
            if not refs and vulnerability.get("ref"):
                refs = [vulnerability.get("ref") or ""]
            found.append((_xml_vulnerability(vulnerability), refs))
    return components, found


def _xml_vulnerability(element: Element) -> dict[str, Any]:
    source = _child(element, "source")
    ratings = []
    for rating in _children(_child(element, "ratings"), "rating"):
        score = _child(rating, "score")
        value = _text(score, "base") if score is not None and len(score) else _text(score)
        ratings.append(
            {
                "score": value,
                "severity": _text(rating, "severity"),
                "method": _text(rating, "method"),
                "vector": _text(rating, "vector"),
            }
        )
    advisories = []
    for advisory in _children(_child(element, "advisories"), "advisory"):
        advisories.append({"url": _text(advisory, "url") or _text(advisory)})
    recommendations = [
        _text(r) for r in _children(_child(element, "recommendations"), "recommendation")
    ]
    return {
        "id": _text(element, "id"),
        "source": {"name": (source.get("name") if source is not None else "") or _text(source, "name"),
                   "url": _text(source, "url")},
        "references": [{"id": _text(r, "id")} for r in _children(_child(element, "references"), "reference")],
        "ratings": ratings,
        "cwes": [_text(c) for c in _children(_child(element, "cwes"), "cwe")],
        "description": _text(element, "description"),
        "detail": _text(element, "detail"),
        "recommendation": _text(element, "recommendation") or "; ".join(filter(None, recommendations)),
        "advisories": advisories,
        "analysis": {"state": _text(_child(element, "analysis"), "state")},
    }  # fmt: skip


def _severity(ratings: list[dict[str, Any]]) -> str:
    stated = [named_severity(r.get("severity")) for r in ratings if r.get("severity")]
    stated = [s for s in stated if s != "info" or not any(r.get("score") for r in ratings)]
    if stated:
        return max(stated, key=lambda s: _RANK[s])
    scores = [score_or_none(r.get("score")) for r in ratings]
    known = [s for s in scores if s is not None]
    return cvss_severity(max(known)) if known else "info"


def _vectors(ratings: list[dict[str, Any]]) -> list[str]:
    vectors = []
    for rating in ratings:
        vector, method = str(rating.get("vector") or ""), str(rating.get("method") or "").upper()
        if not vector:
            continue
        if method.startswith("CVSSV3") and not vector.startswith("CVSS:"):
            vector = f"CVSS:3.0/{vector.lstrip('/')}"
        if method.startswith("CVSSV4") and not vector.startswith("CVSS:"):
            vector = f"CVSS:4.0/{vector.lstrip('/')}"
        vectors.append(vector)
    return vectors


def _finding(
    vulnerability: dict[str, Any], component: dict[str, Any], ref: str, tool: str, subject: str
) -> FindingData:
    vuln_id = str(vulnerability.get("id") or "")
    ratings = [r for r in as_list(vulnerability.get("ratings")) if isinstance(r, dict)]
    name = str(component.get("name") or "")
    if component.get("group"):
        name = f"{component['group']}/{name}"
    version = str(component.get("version") or "")
    raw_source = vulnerability.get("source")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    analysis = vulnerability.get("analysis")
    state = str(analysis.get("state") or "") if isinstance(analysis, dict) else ""
    references = [str(source.get("url") or "")] + [
        str(a.get("url") or "")
        for a in as_list(vulnerability.get("advisories"))
        if isinstance(a, dict)
    ]
    aliases = [
        str(r.get("id") or "")
        for r in as_list(vulnerability.get("references"))
        if isinstance(r, dict)
    ]
    finding = FindingData(
        tool=tool,
        severity=_severity(ratings),
        title=text(f"{vuln_id} in {name or ref or subject or 'a component'}", 500),
        rule_id=vuln_id,
        description=text(
            "\n\n".join(
                filter(
                    None,
                    (
                        str(vulnerability.get("description") or ""),
                        str(vulnerability.get("detail") or ""),
                    ),
                )
            )
        ),
        remediation=text(vulnerability.get("recommendation")),
        component=name or ref,
        version=version,
        location=subject or str(component.get("purl") or ref),
        item=subject,
        evidence={
            "purl": str(component.get("purl") or ""),
            "bom_ref": ref,
            "source": str(source.get("name") or ""),
            "analysis": state,
        },
        references=[r for r in references if r],
        cwe_ids=cwe_ids(str(c) for c in as_list(vulnerability.get("cwes"))),
        vuln_ids=vuln_ids_in([vuln_id, *aliases]),
    )
    return cvss_fill(finding, _vectors(ratings))
