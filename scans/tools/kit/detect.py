"""Recognising a report by its shape before parsing it: the XML root element, the keys of a JSON
document or of its first JSON Lines record. Detection never reads findings and never raises: a
document it cannot read is simply not of that format."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from config.bulkwrite import gc_paused

# The first element after the prolog, comments, processing instructions and a DOCTYPE.
_XML_ROOT = re.compile(
    rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:(?:<!--.*?-->|<\?.*?\?>|<!DOCTYPE[^>\[]*(?:\[.*?\]\s*)?>)\s*)*"
    rb"<([A-Za-z_][\w.:-]*)",
    re.DOTALL,
)
_HEAD = 64 * 1024


def xml_root(data: bytes) -> str:
    """The name of the document's root element ("" when it is not XML)."""
    match = _XML_ROOT.match(data[:_HEAD].lstrip(b"\xef\xbb\xbf"))
    return match.group(1).decode("ascii", "replace") if match else ""


@functools.lru_cache(maxsize=1)
def json_document(data: bytes) -> Any:
    """The parsed JSON document, or None when the bytes are not one JSON value. The last document
    is kept (every format's detector asks about the same upload: it is parsed once); detectors
    only read it, and `detection_done()` lets it go."""
    if not data[:1].isspace() and data[:1] not in b'[{"ntf-0123456789\xef':
        return None  # not JSON: no need to read 50 MB of XML to find out
    try:
        # A report is a tree of fresh objects without cycles: the collector paused (as for
        # parsers, kit.reports.bulk_parser), or it runs dozens of times over a 50 MB report.
        with gc_paused():
            return json.loads(data)
    except (ValueError, RecursionError):
        return None


def detection_done() -> None:
    """Forget the document kept for detection (a large report's objects)."""
    json_document.cache_clear()


def first_json_line(data: bytes) -> Any:
    """The first non-empty line parsed as JSON (JSON Lines), or None."""
    for line in data.splitlines():
        if line.strip():
            try:
                return json.loads(line)
            except (ValueError, RecursionError):
                return None
    return None


def has_keys(value: Any, *keys: str) -> bool:
    return isinstance(value, dict) and all(key in value for key in keys)


def has_any_key(value: Any, *keys: str) -> bool:
    return isinstance(value, dict) and any(key in value for key in keys)


def csv_header(data: bytes, delimiter: str = ",") -> list[str]:
    """The first line of a CSV file as lower-cased, unquoted column names ([] when it has no
    delimiter or is not text)."""
    head = data[:_HEAD].lstrip(b"\xef\xbb\xbf").lstrip()
    first = head.split(b"\n", 1)[0].strip()
    if delimiter.encode() not in first:
        return []
    try:
        line = first.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return [cell.strip().strip('"').strip().lower() for cell in line.split(delimiter)]


def text_lines(data: bytes, limit: int = 50) -> list[str]:
    """The first `limit` non-empty lines of a text file, stripped ([] when it is not UTF-8)."""
    try:
        head = data[:_HEAD].decode("utf-8-sig", errors="strict")
    except UnicodeDecodeError:
        head = data[:_HEAD][: _HEAD - 4].decode("utf-8", errors="ignore")
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    return lines[:limit]
