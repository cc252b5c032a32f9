"""content_discovery: find the paths a web app does not link to (built in, no tool needed).

argv: ["builtin:content_discovery", "--wordlist", "default|small|none", "--extra", "a,b",
       "--extensions", "php,bak", "--status", "200-299,301,…", "--calibrate" | "--no-calibrate",
       "--concurrency", N, "--timeout-ms", N, "--max-requests", N, "--", BASE_URL]

Each word of the bundled wordlist (scans/tools/wordlists/content.txt; source and licence in
SOURCES.md) and of `extra_words`, alone and with each extension, is requested under the base
URL (its path taken as a directory). Every candidate URL passes the scope check first; one that
does not is never requested. Redirects are reported, not followed.

Calibration (on by default), like ffuf's `-ac`: before the wordlist, a few random paths (with and
without an extension, and a deep one) are requested; an answer that looks like theirs (the same
status and the same word and line counts) is the server's answer for anything,
a catch-all or soft 404, and is not reported.

Emits a `url` item per path whose status is kept (status, content type and length, words, lines,
redirect target) and an `info` finding `discovered-path` at it (as the ffuf and gobuster parsers
do), so a scan diff shows a path that appeared or went away.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

from scans.engine.runtime import Command, StepContext, StepResult
from scans.tools.kit import fields
from scans.tools.kit.calibration import probe_pages
from scans.tools.kit.discovery import url_found
from scans.tools.kit.dns_bulk import random_label
from scans.tools.kit.options import BuiltinArgs, ConfigField, flag, timeout_field, validate_config
from scans.tools.kit.records import BuiltinRun, builtin_commands, step_error
from scans.tools.kit.tool import Tool
from scans.tools.kit.web_fetch import Beat, Page, fetch_pages
from scans.tools.kit.wordlists import bundled_words, parse_statuses
from targets.items import Item

TOOL = "content_discovery"
ACCEPTS = {"url"}
EMITS = {"url"}

NODE = Tool(
    type="content_discovery",
    label="Content discovery",
    group="Probe",
    icon="list",
    help="Find hidden paths of a web app from a wordlist (built in, calibrated).",
    order=30,
)
WORDLISTS = {"default": 100_000, "small": 1000, "none": 0}
DEFAULT_STATUS = "200-299,301,302,307,308,401,403,405,500"
MAX_BODY = 64 * 1024


def parse_words(text: str) -> list[str]:
    """ "admin, backup.zip" -> the words; no spaces, no `..` segments, no scheme or host."""
    words: list[str] = []
    for raw in str(text).replace("\n", ",").split(","):
        word = raw.strip().lstrip("/")
        if not word:
            continue
        if any(c.isspace() for c in word) or ".." in word.split("/") or "://" in word:
            raise ValueError(f"{raw.strip()[:80]!r} is not a path word")
        words.append(word)
    return list(dict.fromkeys(words))


def parse_extensions(text: str) -> list[str]:
    found = []
    for raw in str(text).split(","):
        ext = raw.strip().lstrip(".")
        if not ext:
            continue
        if not ext.replace("-", "").replace("_", "").isalnum() or len(ext) > 10:
            raise ValueError(f"{raw.strip()[:20]!r} is not a file extension")
        found.append(ext)
    return list(dict.fromkeys(found))


CONFIG_FIELDS: list[ConfigField] = [
    fields.choice("wordlist", "default", WORDLISTS, "Bundled words: default (about 4600), small (1000) or none"),
    fields.text("extra_words", "", 4000, "More words or paths, comma-separated", parse_words),
    fields.text("extensions", "", 200, "Also try each word with these, e.g. php,bak,zip", parse_extensions),
    fields.text("status_codes", DEFAULT_STATUS, 200, "Report answers with these status codes", parse_statuses),
    fields.boolean("calibrate", True, "Leave out answers that look like the server's answer to random paths"),
    fields.concurrency(40, 500),
    fields.request_timeout(5000, 60000, "Timeout of each request"),
    fields.integer("max_requests", 50000, 1, 1_000_000, "Stop after this many requests per base URL"),
    timeout_field(),
]  # fmt: skip

_ARGS = BuiltinArgs(TOOL)
_ARGS.add_argument("--wordlist", choices=list(WORDLISTS), required=True)
_ARGS.add_argument("--extra", type=parse_words, default=[])
_ARGS.add_argument("--extensions", type=parse_extensions, default=[])
_ARGS.add_argument("--status", type=parse_statuses, required=True)
_ARGS.add_argument("--calibrate", action="store_true")
_ARGS.add_argument("--no-calibrate", dest="calibrate", action="store_false")
_ARGS.add_argument("--concurrency", type=int, required=True)
_ARGS.add_argument("--timeout-ms", type=int, required=True)
_ARGS.add_argument("--max-requests", type=int, required=True)
_ARGS.add_argument("base")


def commands(config: dict, items: list[Item]) -> list[Command]:
    """One discovery per URL item (its path taken as a directory)."""
    options = validate_config(config, CONFIG_FIELDS)
    argv = [f"builtin:{TOOL}", "--wordlist", options["wordlist"]]
    if parse_words(options["extra_words"]):
        argv += ["--extra", ",".join(parse_words(options["extra_words"]))]
    if parse_extensions(options["extensions"]):
        argv += ["--extensions", ",".join(parse_extensions(options["extensions"]))]
    argv += [
        "--status",
        options["status_codes"].replace(" ", ""),
        flag("calibrate", options["calibrate"]),
    ]
    argv += [
        "--concurrency",
        str(options["concurrency"]),
        "--timeout-ms",
        str(options["timeout_ms"]),
    ]
    argv += ["--max-requests", str(options["max_requests"])]
    bases = dict.fromkeys(directory_of(item.value) for item in items if item.kind == "url")
    return [Command([*argv, "--", base]) for base in bases]  # fmt: skip


def directory_of(url: str) -> str:
    """The base URL's directory: "http://h/app/index.php?x" -> "http://h/app/"."""
    parts = urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return f"{parts.scheme}://{parts.netloc}{path or '/'}"


def candidates(base: str, words: list[str], extensions: list[str]) -> list[str]:
    urls: dict[str, None] = {}
    for word in words:
        urls.setdefault(urljoin(base, word))
        if extensions and not word.endswith("/"):
            for ext in extensions:
                urls.setdefault(urljoin(base, f"{word}.{ext}"))
    return list(urls)


def is_catch_all(page: Page, baseline: list[Page]) -> bool:
    """Looks like the answer to a random path: the same status and the same word and line
    counts. Not the size: a soft 404 that echoes the path differs in size by the path's length,
    and a real page may happen to be as long as a probe's answer."""
    return any(
        (page.status, page.words, page.lines) == (probe.status, probe.words, probe.lines)
        for probe in baseline
    )


def _discover(ctx: StepContext, args: Any, record: BuiltinRun, result: StepResult) -> None:
    timeout_s = args.timeout_ms / 1000
    beat = Beat(ctx.heartbeat)
    baseline: list[Page] = []
    if args.calibrate:
        probes = [f"{random_label(16)}", f"{random_label(12)}.php", f"{random_label(10)}/"]
        probes.append(f"{random_label(8)}/{random_label(8)}.html")
        baseline = probe_pages(ctx, args.base, probes, timeout_s=timeout_s, max_body=MAX_BODY)
        shown = sorted({f"{p.status}/{p.length}B" for p in baseline})
        record.say(f"calibration: random paths answer {', '.join(shown) or 'nothing'}")
    words = list(dict.fromkeys([*bundled_words()[: WORDLISTS[args.wordlist]], *args.extra]))
    urls = candidates(args.base, words, args.extensions)[: args.max_requests]
    allowed = [url for url in urls if ctx.in_scope(Item("url", url))]
    if len(allowed) < len(urls):
        record.say(f"{len(urls) - len(allowed)} candidate URLs out of scope: not requested")
    kept = errors = 0
    for page in fetch_pages(
        allowed, concurrency=args.concurrency, timeout_s=timeout_s, max_body=MAX_BODY,
        guard=ctx.connect_guard,
    ):  # fmt: skip
        beat()
        if ctx.is_cancelled():
            break
        if page.error:
            errors += 1
            continue
        if page.status not in args.status or (baseline and is_catch_all(page, baseline)):
            continue
        found = url_found(
            TOOL, page.url, rule_id="discovered-path",
            title=f"Found {page.url} (HTTP {page.status})",
            description=f"{page.url} answers HTTP {page.status}; no page links to it necessarily.",
            status=page.status, content_type=page.content_type, content_length=page.length,
            words=page.words, lines=page.lines,
            redirect_to=urljoin(page.url, page.location) if page.location else "",
        )  # fmt: skip
        if found is not None:
            kept += 1
            result.items.append(found[0])
            result.findings.append(found[1])
            record.say(f"{page.status} {page.url} ({page.length} B)")
    summary = f"{args.base}: {kept} paths found of {len(allowed)} requests ({errors} errors)"
    record.conclude(ctx, summary)
    if errors and errors == len(allowed):
        raise OSError(f"{args.base}: no request was answered")


def run(ctx: StepContext) -> StepResult:
    result = StepResult()
    for record, args in builtin_commands(ctx, result, commands(ctx.config, ctx.items), _ARGS):
        try:
            _discover(ctx, args, record, result)
        except OSError as exc:
            result.runs.append(record.fail(ctx, str(exc)))
            continue
        result.runs.append(record.finish(cancelled=ctx.is_cancelled()))
    result.error = step_error(result.runs)
    return result
