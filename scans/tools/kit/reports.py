"""What every tool parser shares: the parsed report, severity mappings, stable locations, dedup,
and secret redaction.

Fingerprints (scans.engine.runtime.fingerprint_of) hash tool + rule + location + component, so parsers
keep those three fields free of anything that changes between two runs of the same scan: no
timestamps, container ids, temporary mount points or absolute checkout paths (`normalize_path`),
and versions go in `version`, not in `component`.
"""

from __future__ import annotations

import csv
import functools
import html
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from config.bulkwrite import gc_paused
from scans.engine.runtime import FindingData
from scans.tools.kit.detect import detection_done, json_document
from targets.items import Item

# Severity words tools print, lower-cased, to ours. "unknown", "negligible" and anything else a
# tool invents are info: reported, never alarming.
NAMED_SEVERITY = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "moderate": "medium",
    "low": "low",
    "info": "info",
    "informational": "info",
    "negligible": "info",
    "unknown": "info",
}


@dataclass
class ParsedReport:
    """What a parser found in one report: findings, discovered items (handed on to later steps
    when in scope, and recorded in the inventory), assets (recorded in the inventory only: what
    the report says about things its node does not emit), and notes for the step log (e.g.
    "every host was down", which a tool's exit code does not say). docs/inventory.md lists the
    attrs the inventory reads."""

    findings: list[FindingData] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    assets: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def bulk_parser(parse: Callable[..., ParsedReport]) -> Callable[..., ParsedReport]:
    """A tool's report parser: it parses with the cyclic garbage collector paused
    (config.bulkwrite.gc_paused: a large report is a tree of hundreds of thousands of fresh
    objects without cycles), and the findings it returns are deduplicated (`dedupe`). Afterwards
    the JSON document detection kept (`kit.detect.json_document`) is let go."""

    @functools.wraps(parse)
    def parse_in_bulk(*args: object, **kwargs: object) -> ParsedReport:
        try:
            with gc_paused():
                report = parse(*args, **kwargs)
                report.findings = dedupe(report.findings)
                return report
        finally:
            detection_done()  # the document detection kept for this parse: no longer needed

    return parse_in_bulk


def named_severity(value: object) -> str:
    return NAMED_SEVERITY.get(str(value or "").strip().lower(), "info")


def cvss_severity(score: object) -> str:
    """CVSS v2/v3 base score → severity, with the v3 qualitative bands (0 is info)."""
    try:
        value = float(str(score))
    except ValueError:
        return "info"
    if value >= 9.0:
        return "critical"
    if value >= 7.0:
        return "high"
    if value >= 4.0:
        return "medium"
    if value > 0.0:
        return "low"
    return "info"


_MOUNT_PREFIX = re.compile(r"^(?:input|output)/[^/]+/")


def normalize_path(path: object) -> str:
    """A file path as a stable location: forward slashes, no leading "./" or "/", no "//", and
    without the sandbox's /input/<name>/ mount point (the same file reads the same whether the
    report came from a container, a host run or an import)."""
    text = str(path or "").strip().replace("\\", "/")
    text = re.sub(r"/{2,}", "/", text)
    while text.startswith("./"):
        text = text[2:]
    text = text.lstrip("/")
    return _MOUNT_PREFIX.sub("", text)


def dedupe(findings: Iterable[FindingData]) -> list[FindingData]:
    """One finding per fingerprint, in first-seen order. Reports repeat themselves (grype lists a
    match once per matcher, gitleaks a secret once per commit that touched the line); the
    repeats are counted in the kept finding's evidence as `occurrences`."""
    kept: dict[str, FindingData] = {}
    for finding in findings:
        fingerprint = finding.fingerprint
        first = kept.get(fingerprint)
        if first is None:
            kept[fingerprint] = finding
        else:
            first.evidence["occurrences"] = int(first.evidence.get("occurrences", 1)) + 1
    return list(kept.values())


def mask(secret: str) -> str:
    """What may be shown of a secret: its first 4 characters when it is long enough that they
    give nothing away (8+), else nothing."""
    return f"{secret[:4]}***" if len(secret) >= 8 else "***"


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (str, list or dict, recursively) with every occurrence of each secret masked."""
    secrets = [s for s in secrets if s]
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, mask(secret))
        return value
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    return value


def load_json(data: bytes, tool: str) -> Any:
    """The report's JSON, or ValueError naming the tool (what import and run both report). The
    document detection already parsed is taken as it is (parsers only read it), so an import
    reads a 50 MB report once."""
    cached = json_document(data)
    if cached is not None:
        return cached
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a {tool} JSON report: {exc}") from exc
    except RecursionError:
        # "[[[[…" a hundred thousand deep: json gives up on the nesting (no report is that deep).
        raise ValueError(f"not a {tool} JSON report: nested too deeply") from None


def load_json_shaped(
    data: bytes, tool: str, shape: type | tuple[type, ...], expected: str, *, name: str = ""
) -> Any:
    """The report's JSON (`load_json`) when its top level is a `shape` (list, dict), else
    ValueError "not a <name> report: expected <expected>" (`name`: the tool as people write it,
    when that is not `tool`)."""
    document = load_json(data, tool)
    if not isinstance(document, shape):
        raise ValueError(f"not a {name or tool} report: expected {expected}")
    return document


def as_list(value: Any) -> list[Any]:
    """Tools write null, a string, or a list where a list is meant."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def text(value: Any, limit: int = 10_000) -> str:
    return str(value or "").strip()[:limit]


def load_xml(data: bytes, tool: str, *roots: str) -> Element:
    """The report's XML root element (defusedxml: entity declarations and external entities are
    refused, not expanded), or ValueError in words; `roots` are the root element names the tool
    writes."""
    try:
        root = fromstring(data)
    except DefusedXmlException:
        raise ValueError(
            f"not a {tool} report: it declares XML entities, which Outpost refuses"
        ) from None
    except ParseError as exc:
        line = getattr(exc, "position", (0, 0))[0]
        raise ValueError(
            f"not a {tool} report: the XML is cut off or damaged (near line {line})"
        ) from None
    name = root.tag.rpartition("}")[2]  # without its namespace
    if roots and name not in roots:
        raise ValueError(f"not a {tool} report: the root element is <{name}>")
    return root


def load_json_lines(data: bytes, tool: str) -> list[Any]:
    """Every record of a JSON Lines report (an empty file is no record), or ValueError naming the
    line that is not JSON."""
    records: list[Any] = []
    for number, line in enumerate(data.decode("utf-8-sig", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except (ValueError, RecursionError):
            raise ValueError(
                f"not a {tool} report: line {number} is not a JSON record (cut off or damaged)"
            ) from None
    return records


def csv_rows(data: bytes, tool: str, delimiter: str = ",") -> list[dict[str, str]]:
    """The rows of a CSV report keyed by lower-cased column names, or ValueError in words."""
    try:
        body = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        body = data.decode("latin-1")
    try:
        reader = csv.DictReader(io.StringIO(body, newline=""), delimiter=delimiter)
        rows = [
            {(key or "").strip().lower(): (value or "") for key, value in row.items()}
            for row in reader
        ]
    except csv.Error as exc:
        raise ValueError(f"not a {tool} report: the CSV is damaged ({exc})") from None
    return rows


def xml_text(element: Element | None, path: str = "", limit: int = 10_000) -> str:
    """The stripped text of `element` (or of its child at `path`), "" when absent."""
    if element is None:
        return ""
    found = element.find(path) if path else element
    return (found.text or "").strip()[:limit] if found is not None else ""


def as_dict(value: Any) -> dict[str, Any]:
    """Tools write null, a list or a string where an object is meant: {} for those."""
    return value if isinstance(value, dict) else {}


_TAG = re.compile(r"<[^>]+>")
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')]+")
EVIDENCE_MAX = 4096  # request/response text kept per web finding


def html_text(value: Any, limit: int = 10_000) -> str:
    """Text of a tool's HTML fragment (ZAP and Burp descriptions): tags dropped, entities
    decoded, paragraphs kept as blank lines."""
    raw = str(value or "")
    raw = re.sub(r"(?i)</p>|<br\s*/?>|</li>", "\n", raw)
    return html.unescape(_TAG.sub("", raw)).strip()[:limit]


def urls_in(value: Any) -> list[str]:
    """The http(s) URLs in a text (reference lists written as prose or HTML)."""
    return list(
        dict.fromkeys(
            m.rstrip(".,;") for m in _URL_IN_TEXT.findall(html.unescape(str(value or "")))
        )
    )
