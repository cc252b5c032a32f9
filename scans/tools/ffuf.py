"""ffuf: web content discovery by fuzzing (https://github.com/ffuf/ffuf).

Outpost reads its reports; running it is for a later runner (imports_only until then).

Reads `-of json` (ffuf 1.x and 2.x): `{"commandline", "time", "results": [...], "config"}`, each
result `{"input": {"FUZZ": …}, "status", "length", "words", "lines", "content-type",
"redirectlocation", "url", "host"}`. `"results": []` is a clean run (ffuf writes the document
even when nothing matched). Every result becomes a `url` item (status, content type and length,
words, lines, redirect target: the inventory's URL attrs) and an `info` finding
`discovered-path` located at the URL, so a scan diff shows a path that appeared or went away.
"""

from __future__ import annotations

from typing import Any

from scans.tools.kit.detect import has_keys, json_document
from scans.tools.kit.discovery import int_or_none, url_found
from scans.tools.kit.reports import ParsedReport, bulk_parser, dedupe, load_json
from scans.tools.kit.tool import ReportFormat, Tool

TOOL = "ffuf"


def _is_ffuf_json(data: bytes) -> bool:
    document = json_document(data)
    return (
        has_keys(document, "results", "config")
        and isinstance(document["results"], list)
        and isinstance(document["config"], dict)
        and ("commandline" in document or "cmdline" in document["config"])
    )


NODE = Tool(
    type=TOOL,
    label="ffuf",
    group="Discover",
    icon="list",
    help="Paths found by ffuf (its JSON reports).",
    order=60,
    imports_only=True,
    sarif_uri="https://github.com/ffuf/ffuf",
    formats=(
        ReportFormat(
            name="ffuf-json",
            label="ffuf JSON (-of json)",
            detect=_is_ffuf_json,
            command="ffuf -u https://example.com/FUZZ -w words.txt -of json -o ffuf.json",
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Discovered paths from an ffuf JSON report."""
    document = load_json(data, TOOL)
    if not has_keys(document, "results") or not isinstance(document["results"], list):
        raise ValueError("not an ffuf report: expected an object with a results list")
    report = ParsedReport()
    for result in document["results"]:
        if not isinstance(result, dict) or "url" not in result:
            raise ValueError("not an ffuf report: a result has no url")
        _add(report, result)
    report.findings = dedupe(report.findings)
    return report


def _add(report: ParsedReport, result: dict[str, Any]) -> None:
    status = int_or_none(result.get("status"))
    raw = result.get("input")
    inputs: dict[str, Any] = raw if isinstance(raw, dict) else {}
    word = str(inputs.get("FUZZ") or "")
    found = url_found(
        TOOL,
        result.get("url"),
        rule_id="discovered-path",
        title=f"Found {result.get('url')} ({status})",
        description=f"ffuf found {result.get('url')} (HTTP {status}) with the word {word!r}.",
        status=status,
        content_type=str(result.get("content-type") or ""),
        content_length=int_or_none(result.get("length")),
        words=int_or_none(result.get("words")),
        lines=int_or_none(result.get("lines")),
        redirect_to=str(result.get("redirectlocation") or ""),
        word=word,
    )
    if found is None:
        raise ValueError(f"not an ffuf report: {str(result.get('url'))[:100]!r} is not a URL")
    item, finding = found
    finding.title = f"Found {item.value} (HTTP {status})"
    report.items.append(item)
    report.findings.append(finding)
