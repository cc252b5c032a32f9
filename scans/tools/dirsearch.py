"""dirsearch: web path discovery (https://github.com/maurosoria/dirsearch). Imported only.

Reads `--format=json` (0.4.x: `{"info": {"args", "time"}, "results": [{url, status,
content-length, content-type, redirect}]}`; 0.4.2 and older wrote `{"http://host/": [{path,
status, content-length, redirect}]}` keyed by target); `"results": []` is a clean run. Every
result becomes a `url` item (status, content type and length, redirect target) and an `info`
finding `discovered-path`, like ffuf's and gobuster's.
"""

from __future__ import annotations

from typing import Any

from scans.tools.kit.detect import has_keys, json_document
from scans.tools.kit.discovery import int_or_none, url_found
from scans.tools.kit.reports import ParsedReport, as_list, bulk_parser, load_json
from scans.tools.kit.tool import ReportFormat, Tool

TOOL = "dirsearch"


def _old_layout(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and bool(document)
        and all(
            str(key).startswith(("http://", "https://")) and isinstance(value, list)
            for key, value in document.items()
        )
    )


def _is_dirsearch_json(data: bytes) -> bool:
    document = json_document(data)
    if has_keys(document, "info", "results"):
        return "args" in (document["info"] or {}) and "dirsearch" in str(
            document["info"].get("args")
        )
    return _old_layout(document)


NODE = Tool(
    type=TOOL,
    label="dirsearch",
    group="Discover",
    icon="list",
    help="Paths found by dirsearch (its JSON reports).",
    order=62,
    imports_only=True,
    sarif_uri="https://github.com/maurosoria/dirsearch",
    formats=(
        ReportFormat(
            name="dirsearch-json",
            label="dirsearch JSON (--format=json)",
            detect=_is_dirsearch_json,
            command="dirsearch -u https://example.com/ --format=json -o dirsearch.json",
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Discovered paths from a dirsearch JSON report."""
    document = load_json(data, "dirsearch")
    if _old_layout(document):
        results = [
            {**entry, "url": base.rstrip("/") + "/" + str(entry.get("path") or "").lstrip("/")}
            for base, entries in document.items()
            for entry in entries
            if isinstance(entry, dict)
        ]
    elif has_keys(document, "results"):
        results = as_list(document["results"])
    else:
        raise ValueError("not a dirsearch report: expected info and results")
    report = ParsedReport()
    for result in results:
        if not isinstance(result, dict) or "url" not in result:
            raise ValueError("not a dirsearch report: a result has no url")
        status = int_or_none(result.get("status"))
        found = url_found(
            TOOL,
            result["url"],
            rule_id="discovered-path",
            title=f"Found {result['url']} (HTTP {status})",
            description=f"dirsearch found {result['url']} (HTTP {status}).",
            status=status,
            content_length=int_or_none(result.get("content-length")),
            content_type=str(result.get("content-type") or ""),
            redirect_to=str(result.get("redirect") or ""),
        )
        if found is None:
            raise ValueError(f"not a dirsearch report: {str(result['url'])[:100]!r} is not a URL")
        report.items.append(found[0])
        report.findings.append(found[1])
    return report
