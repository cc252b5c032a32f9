"""gobuster: directory and file discovery (https://github.com/OJ/gobuster), `gobuster dir` mode.

Runs in a container: `gobuster dir -u BASE -w /input/words.txt -o /output/gobuster-N.txt -q
--no-error -k -t N --timeout Ns -s CODES -b "" [--exclude-length N | -s with a status left out]`
per URL item's directory, the bundled content wordlist (scans/tools/wordlists/content.txt, as
ffuf and content_discovery use) mounted read-only; `-k` because recon meets self-signed servers
(tls_inspect judges certificates), redirects are reported, not followed.

Calibration (on by default): gobuster refuses to run against a server that answers a random
path (its own UUID probe) with a status it would report: "the server returns a status code that
matches the provided options for non existing urls". So before gobuster, the worker requests
three random paths under the base itself (scope-checked, through the step's connect guard:
scans.tools.kit.calibration) and, when they come back with one reported status, models the
catch-all answer: a fixed size (`--exclude-length SIZE`: gobuster leaves those out itself), or a
size that grows with the path (a soft 404 echoing it: `--exclude-length` of the size its UUID
probe will get, so it runs, and the parser leaves out every line with that status whose size is
the one predicted for its path). Answers that fit neither (sizes that vary otherwise, or several
statuses) have their status left out of `-s`, and the log says so. The calibrated flags are
decided when the step runs: a dry run shows the command without them; the step records what ran.

gobuster writes text, not JSON: with `-o` (and on standard output with `-q`) one line per path,
`admin                (Status: 301) [Size: 169] [--> http://host/admin/]`, in gobuster 3.x;
2.x wrote `/admin (Status: 301)`. An empty file is a clean run. The paths are relative to the
URL gobuster was given (`-u`), which the report does not repeat: give it as the import's
`target` (e.g. `http://host/`) to record full URLs; without it the paths are findings located at
the path only, and the redirect target (when a line has one) names the host.

Every line becomes a `url` item (status, size, redirect target) and an `info` finding
`discovered-path` (severity always info: a path is an observation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin

from scans.engine.runtime import Command, FindingData, StepContext, StepResult
from scans.tools.kit.arguments import url_directories
from scans.tools.kit.calibration import probe_pages, random_paths
from scans.tools.kit.detect import text_lines
from scans.tools.kit.discovery import url_found
from scans.tools.kit.invoke import Plan, run_plans
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.reports import ParsedReport, bulk_parser
from scans.tools.kit.tool import ReportFormat, TestImage, Tool
from scans.tools.kit.values import canonical_url
from scans.tools.kit.web_fetch import Page
from scans.tools.kit.wordlists import (
    content_wordlist,
    discovery_fields,
    parse_statuses,
    wordlist_plans,
)
from targets.items import Item

TOOL = "gobuster"
ACCEPTS = {"url"}
EMITS = {"url"}
# The random paths of the calibration; 36 characters is the length of gobuster's own UUID probe.
PROBE_LENGTHS = (12, 20, 36)
UUID_LENGTH = 36
_LINE = re.compile(
    r"^(?P<path>\S+)\s+\(Status:\s*(?P<status>\d{3})\)"
    r"(?:\s*\[Size:\s*(?P<size>\d+)\])?(?:\s*\[-->\s*(?P<redirect>[^\]\s]+)\])?\s*$"
)


def _is_gobuster_text(data: bytes) -> bool:
    lines = [line for line in text_lines(data, 20) if not line.startswith(("=", "Gobuster", "["))]
    return bool(lines) and all(_LINE.match(line) for line in lines[:5])


NODE = Tool(
    type=TOOL,
    label="gobuster",
    group="Discover",
    icon="list",
    help="Find hidden paths of web apps with gobuster dir (calibrated), in a sandboxed container.",
    order=61,
    # The project's own image (its README's `docker pull ghcr.io/oj/gobuster:latest`): pin it
    # by digest, or point TOOL_IMAGE_GOBUSTER at your own.
    image="ghcr.io/oj/gobuster:latest",
    network="bridge",
    sarif_uri="https://github.com/OJ/gobuster",
    test_image=TestImage(
        name="outpost-test/gobuster:1",
        entrypoint=("/usr/bin/gobuster",),
        binaries=("gobuster",),
        files=("/etc/nsswitch.conf", "/etc/ssl/certs/ca-certificates.crt"),
    ),
    formats=(
        ReportFormat(
            name="gobuster-text",
            label="gobuster dir output (-o)",
            detect=_is_gobuster_text,
            command="gobuster dir -u https://example.com/ -w words.txt -q -o gobuster.txt",
            empty=("blank",),
        ),
    ),
)


CONFIG_FIELDS: list[ConfigField] = [
    *discovery_fields(
        calibrate="Request random paths first; leave out answers like theirs (--exclude-length)",
        threads="Requests in flight (-t)",
        request_timeout="Timeout of each request in seconds (--timeout)",
    ),
    timeout_field(),
]


def _statuses(codes: set[int]) -> str:
    return ",".join(str(code) for code in sorted(codes))


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    options = validate_config(config, CONFIG_FIELDS)
    bases, refused = url_directories(items)

    def argv(base: str, report: str) -> list[str]:
        argv = ["gobuster", "dir", "-u", base, "-w", "/input/words.txt", "-o", report]
        argv += ["-q", "--no-error", "-k", "-t", str(options["threads"])]
        argv += ["--timeout", f"{options['timeout_s_request']}s"]
        # -b "": no blacklist, so -s (the statuses to report) is what gobuster reads.
        return [*argv, "-s", options["status_codes"].replace(" ", ""), "-b", ""]

    words = content_wordlist(options["wordlist"])
    return wordlist_plans(TOOL, bases, words, argv, suffix="txt"), refused


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    """One gobuster per base URL (a URL item's directory), before calibration."""
    return [plan.command for plan in _plans(config, items)[0]]


@dataclass(frozen=True)
class CatchAll:
    """How a server answers paths that do not exist: a status and a size, fixed or growing with
    the path (a soft 404 page that echoes it)."""

    status: int
    offset: int
    echoes_path: bool

    def size(self, path: str) -> int:
        return self.offset + (len(path) if self.echoes_path else 0)

    def matches(self, status: int, size: int | None, path: str) -> bool:
        return status == self.status and size == self.size(path)


def catch_all(answers: list[tuple[str, Page]], reported: set[int]) -> CatchAll | set[int] | None:
    """What the answers to random paths say: None (gobuster reports none of them), the catch-all
    model, or the reported statuses no model fits (to leave out of `-s`)."""
    hits = [(path, page) for path, page in answers if page.status in reported]
    if not hits:
        return None
    statuses = {page.status for _, page in hits}
    if len(statuses) == 1 and len(hits) >= 2:
        status = statuses.pop()
        if len({page.length for _, page in hits}) == 1:
            return CatchAll(status, hits[0][1].length, echoes_path=False)
        offsets = {page.length - len(path) for path, page in hits}
        if len(offsets) == 1:
            return CatchAll(status, offsets.pop(), echoes_path=True)
    return {page.status for _, page in hits}


def _calibrate(ctx: StepContext, plan: Plan, timeout_s: float) -> tuple[Plan, CatchAll | None]:
    """The plan with its calibrated flags, and the catch-all its report must be read without."""
    base, argv = plan.subject, list(plan.command.argv)
    at = argv.index("-s") + 1
    paths = random_paths(*PROBE_LENGTHS)
    pages = probe_pages(ctx, base, paths, timeout_s=timeout_s, max_body=64 * 1024)
    answers = [(page.url[len(base) :], page) for page in pages if page.url.startswith(base)]
    shown = ", ".join(f"{page.status}/{page.length}B" for _, page in answers) or "nothing"
    ctx.log(f"{base}: calibration: random paths answer {shown}")
    reported = parse_statuses(argv[at])
    found = catch_all(answers, reported)
    if isinstance(found, CatchAll):
        # gobuster's own probe (a UUID) must meet an excluded length, or it refuses to run.
        argv += ["--exclude-length", str(found.size("x" * UUID_LENGTH))]
        kind = "a page echoing the path" if found.echoes_path else "a fixed page"
        ctx.log(f"{base}: catch-all HTTP {found.status} ({kind}): its answers are left out")
    elif found:
        argv[at] = _statuses(reported - found)
        ctx.log(
            f"{base}: random paths answer HTTP {_statuses(found)} of varying sizes: "
            "those statuses are left out"
        )
    return replace(plan, command=Command(argv, plan.command.image)), (
        found if isinstance(found, CatchAll) else None
    )


def run(ctx: StepContext) -> StepResult:
    """Calibrate each base, then run the plans; each report read without the catch-all's lines."""
    plans, refused = _plans(ctx.config, ctx.items)
    for line in refused:
        ctx.log(line)
    options = validate_config(ctx.config, CONFIG_FIELDS)
    catch_alls: dict[str, CatchAll] = {}
    runnable = []
    for planned in plans:
        plan, found = planned, None
        if options["calibrate"]:
            plan, found = _calibrate(ctx, planned, float(options["timeout_s_request"]))
        argv = plan.command.argv
        if not argv[argv.index("-s") + 1]:
            ctx.log(f"{plan.subject}: not scanned: every status to report is a catch-all's")
            continue
        if found is not None:
            catch_alls[plan.subject] = found
        runnable.append(plan)

    def read(data: bytes, *, subject: str = "") -> ParsedReport:
        found = catch_alls.get(subject)
        kept, dropped = without_catch_all(data, found) if found else (data, 0)
        report = parse(kept, subject=subject)
        if dropped:
            report.notes.append(f"{dropped} answers like the catch-all left out")
        return report

    return run_plans(ctx, TOOL, runnable, read)


def without_catch_all(data: bytes, found: CatchAll) -> tuple[bytes, int]:
    """gobuster's lines minus those that are the catch-all's answer for their path, and how
    many were left out."""
    kept = []
    lines = data.decode("utf-8", errors="replace").splitlines()
    for raw in lines:
        match = _LINE.match(raw.strip())
        if match and match["size"]:
            path = match["path"].lstrip("/")
            if found.matches(int(match["status"]), int(match["size"]), path):
                continue
        kept.append(raw + "\n")
    return "".join(kept).encode(), len(lines) - len(kept)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Discovered paths from gobuster dir's text output; `subject` is the base URL (-u)."""
    try:
        base = canonical_url(subject) if subject else ""
    except ValueError:
        base = ""
    report = ParsedReport()
    for number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("=", "Gobuster", "[+]", "[-]", "[!]", "Progress")):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"not a gobuster report: line {number} is not a path with its status")
        _add(report, match, base)
    return report


def _add(report: ParsedReport, match: re.Match[str], base: str) -> None:
    path, status = match["path"], int(match["status"])
    redirect = match["redirect"] or ""
    url = urljoin(base, path.lstrip("/")) if base else ""
    if not url and redirect.startswith(("http://", "https://")):
        # gobuster 3 prints the redirect target: the found path on the same host.
        url = urljoin(redirect, "/" + path.lstrip("/"))
    attrs = {"status": status, "content_length": int(match["size"]) if match["size"] else None}
    found = url_found(
        TOOL,
        url,
        rule_id="discovered-path",
        title=f"Found {url} (HTTP {status})",
        description=f"gobuster found {path} (HTTP {status}).",
        redirect_to=redirect,
        **attrs,
    )
    if found is not None:
        report.items.append(found[0])
        report.findings.append(found[1])
        return
    # No base URL and no redirect: the path alone, as the finding's location.
    report.findings.append(
        FindingData(
            tool=TOOL,
            severity="info",
            title=f"Found /{path.lstrip('/')} (HTTP {status})",
            rule_id="discovered-path",
            description=f"gobuster found {path} (HTTP {status}); the report does not name the host.",
            location="/" + path.lstrip("/"),
            evidence={"status": status, "size": attrs["content_length"] or ""},
            tags=["discovery"],
        )
    )
