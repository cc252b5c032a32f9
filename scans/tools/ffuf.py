"""ffuf: web content discovery by fuzzing (https://github.com/ffuf/ffuf).

Runs in a container: `ffuf -u BASE/FUZZ -w /input/words.txt -of json -o /output/ffuf-N.json
-ac -mc CODES -t N -timeout N -s` per URL item (its path taken as a directory), the bundled
wordlist (scans/tools/wordlists/content.txt, as the built-in content_discovery uses) mounted
read-only; `-ac` is ffuf's auto-calibration against catch-all answers. Found URLs outside scope
are dropped by the engine like every tool's items.

Reads `-of json` (ffuf 1.x and 2.x): `{"commandline", "time", "results": [...], "config"}`, each
result `{"input": {"FUZZ": …}, "status", "length", "words", "lines", "content-type",
"redirectlocation", "url", "host"}`. `"results": []` is a clean run (ffuf writes the document
even when nothing matched). Every result becomes a `url` item (status, content type and length,
words, lines, redirect target: the inventory's URL attrs) and an `info` finding
`discovered-path` located at the URL (severity always info: a path is an observation), so a
scan diff shows a path that appeared or went away.
"""

from __future__ import annotations

from typing import Any

from scans.tools.kit.arguments import url_directories
from scans.tools.kit.detect import has_keys, json_document
from scans.tools.kit.discovery import int_or_none, url_found
from scans.tools.kit.invoke import Plan, planned_runner
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import ParsedReport, bulk_parser, load_json
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from scans.tools.kit.wordlists import content_wordlist, discovery_fields, wordlist_plans
from targets.items import Item

TOOL = "ffuf"
ACCEPTS = {"url"}
EMITS = {"url"}


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
    help="Find hidden paths of web apps with ffuf (calibrated), in a sandboxed container.",
    order=60,
    # No image is published by the ffuf project itself: a community build, pin it by digest or
    # point TOOL_IMAGE_FFUF at your own.
    image="secsi/ffuf:1.5.0",
    network="bridge",
    sarif_uri="https://github.com/ffuf/ffuf",
    test_image=TestImage(
        name="outpost-test/ffuf:1",
        entrypoint=("/usr/bin/ffuf",),
        binaries=("ffuf",),
        files=("/etc/nsswitch.conf", "/etc/ssl/certs/ca-certificates.crt"),
    ),
    formats=(
        ReportFormat(
            name="ffuf-json",
            label="ffuf JSON (-of json)",
            detect=_is_ffuf_json,
            command="ffuf -u https://example.com/FUZZ -w words.txt -of json -o ffuf.json",
        ),
    ),
)


CONFIG_FIELDS: list[ConfigField] = [
    *discovery_fields(
        calibrate="Leave out answers like those to random paths (-ac)",
        threads="Requests in flight (-t)",
        request_timeout="Timeout of each request in seconds (-timeout)",
    ),
    timeout_field(),
]


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    """One ffuf per base URL (a URL item's directory)."""
    options = validate_config(config, CONFIG_FIELDS)
    bases, refused = url_directories(items)

    def argv(base: str, report: str) -> list[str]:
        argv = ["ffuf", "-u", f"{base}FUZZ", "-w", "/input/words.txt", "-of", "json"]
        argv += ["-o", report, "-mc", options["status_codes"].replace(" ", "")]
        argv += ["-t", str(options["threads"]), "-timeout", str(options["timeout_s_request"])]
        return [*argv, "-s", *(["-ac"] if options["calibrate"] else [])]

    words = content_wordlist(options["wordlist"])
    return wordlist_plans(TOOL, bases, words, argv, suffix="json"), refused


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


commands, run = planned_runner(TOOL, _plans, parse)
