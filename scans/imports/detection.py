"""Which tool wrote a report: every format declared in the tool registry (scans.tools, each
tool's `NODE.formats`) says whether it recognises a document by its shape (root element, keys,
CSV header), never by its findings. The import refuses what it cannot place, in words: a file of
another tool names that tool ("this looks like a Gitleaks JSON report; choose tool=gitleaks"), a
file several formats claim lists them, and an empty document is a clean report only for a tool
whose format really writes that empty form (`ReportFormat.empty`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import structlog

from scans.tools import importable_tools, tool_get
from scans.tools.kit.detect import csv_header, text_lines, xml_root
from scans.tools.kit.tool import ReportFormat, Tool

log = structlog.get_logger(__name__)


class ReportUnrecognised(ValueError):
    """A report the import cannot place; `field` is the form field the message belongs to."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Detected:
    tool: Tool
    format: ReportFormat  # the format that recognised the document
    is_empty: bool = False  # one of the format's own empty forms: a clean report

    @property
    def name(self) -> str:
        return f"{self.format.label} (tool={self.tool.type})"


def empty_form(data: bytes) -> str:
    """ "blank", "null", "[]" or "{}" when the document is one of those empty forms, else ""."""
    body = data.strip().lstrip(b"\xef\xbb\xbf").strip()
    if not body:
        return "blank"
    if len(body) > 64 or body[:1] not in b"n[{":
        return ""
    try:
        value = json.loads(body)
    except ValueError:
        return ""
    if value is None:
        return "null"
    if value == []:
        return "[]"
    if value == {}:
        return "{}"
    return ""


def _matches(tool: Tool, data: bytes) -> list[Detected]:
    found = []
    for fmt in tool.formats:
        try:
            if fmt.detect(data):
                found.append(Detected(tool, fmt))
        except Exception:  # a detector never fails an import: it simply says no
            log.warning("import.detector_failed", format=fmt.name, exc_info=True)
    return found


def report_candidates(data: bytes) -> list[Detected]:
    """Every tool format that recognises the document; a generic format (SARIF, CycloneDX) only
    when no tool claims the document as its own."""
    found = [match for tool in importable_tools() for match in _matches(tool, data)]
    specific = [match for match in found if not match.format.generic]
    return specific or found


def report_detect(data: bytes, tool: str = "") -> Detected:
    """The tool and format of a report, or ReportUnrecognised with what it looks like instead.
    The JSON document detection parsed is kept for the parser (`kit.detect.json_document`);
    callers let it go with `detection_done()` once the report is read.

    With `tool`, the document must be one of that tool's formats (or one of the empty forms its
    formats write); without it, exactly one tool's formats must recognise it."""
    form = empty_form(data)
    if tool:
        chosen = tool_get(tool)
        if form:
            for fmt in chosen.formats:
                if form in fmt.empty:
                    return Detected(chosen, fmt, is_empty=True)
            raise ReportUnrecognised(_empty_refusal(form, chosen))
        own = _matches(chosen, data)
        if own:
            return own[0]
        others = [match for match in report_candidates(data) if match.tool.type != chosen.type]
        if others:
            names = " or ".join(match.name for match in others[:3])
            raise ReportUnrecognised(
                f"Not a {chosen.label} report: this looks like {_article(names)} {names}; "
                f"choose tool={others[0].tool.type}."
            )
        raise ReportUnrecognised(
            f"Not a {chosen.label} report: Outpost reads {_expected(chosen)}; this file is "
            f"{document_described(data)}."
        )
    if form:
        raise ReportUnrecognised(
            f"The file is empty ({'no content' if form == 'blank' else form}), so it does not say "
            "which tool wrote it: choose the tool to import it as a clean scan.",
            field="tool",
        )
    candidates = report_candidates(data)
    tools = {match.tool.type for match in candidates}
    if len(tools) == 1:
        return candidates[0]
    if tools:
        names = "; ".join(match.name for match in candidates)
        raise ReportUnrecognised(
            f"This file could be any of: {names}. Choose the tool that wrote it.", field="tool"
        )
    raise ReportUnrecognised(
        f"Outpost does not recognise this report: it is {document_described(data)}. Choose the "
        "tool that wrote it to see what Outpost expects of that tool's reports."
    )


def _article(text: str) -> str:
    return "an" if text[:1].lower() in "aeiou" else "a"


def _expected(tool: Tool) -> str:
    return ", ".join(fmt.label for fmt in tool.formats)


def _empty_refusal(form: str, tool: Tool) -> str:
    shown = "The file is empty" if form == "blank" else f"The file is only {form}"
    writes = sorted({empty for fmt in tool.formats for empty in fmt.empty})
    said = ", ".join("an empty file" if empty == "blank" else empty for empty in writes)
    how = f" (a clean {tool.label} report is {said} or a report without findings)" if said else ""
    return f"{shown}, which is not what {tool.label} writes when it finds nothing{how}."


def document_described(data: bytes) -> str:
    """What a document is, in words, for a refusal: "a JSON object with the keys …", "an XML
    document whose root element is <…>", "JSON that is cut off or damaged (line 3)"."""
    if b"\x00" in data[:4096]:
        return "a binary file, not a text report"
    head = data[:65536].lstrip(b"\xef\xbb\xbf").lstrip()
    if head[:1] in (b"{", b"["):
        try:
            document = json.loads(data)
        except RecursionError:
            return "JSON nested too deeply to be a report"
        except ValueError as exc:
            line = getattr(exc, "lineno", 0)
            lines = text_lines(data, 2)
            if len(lines) > 1 and all(row.startswith("{") for row in lines[:2]):
                return f"JSON Lines whose line {line} is cut off or damaged"
            return f"JSON that is cut off or damaged (it stops being valid at line {line})"
        return _json_described(document)
    root = xml_root(data)
    if root:
        return f"an XML document whose root element is <{root}>"
    if head[:1] == b"<":
        return "XML (or HTML) that Outpost cannot read"
    header = csv_header(data)
    if len(header) >= 2:
        return (
            f"a CSV file with the columns {', '.join(header[:8])}{'…' if len(header) > 8 else ''}"
        )
    lines = text_lines(data, 1)
    first = lines[0][:60] if lines else ""
    return f'a text file starting with "{first}"'


def _json_described(document: object) -> str:
    if isinstance(document, dict):
        keys = list(document)
        shown = ", ".join(str(key) for key in keys[:8]) + ("…" if len(keys) > 8 else "")
        return f"a JSON object with the keys {shown}" if keys else "an empty JSON object"
    if isinstance(document, list):
        if not document:
            return "an empty JSON list"
        first = document[0]
        if isinstance(first, dict):
            names = ", ".join(str(key) for key in list(first)[:8])
            return f"a JSON list of {len(document)} objects with the keys {names}"
        return f"a JSON list of {len(document)} values"
    return f"the JSON value {json.dumps(document)[:40]}"
