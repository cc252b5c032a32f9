"""gobuster: directory and file discovery (https://github.com/OJ/gobuster), `gobuster dir` mode.

Outpost reads its reports; running it is for a later runner (imports_only until then).

gobuster writes text, not JSON: with `-o` (and on standard output with `-q`) one line per path,
`admin                (Status: 301) [Size: 169] [--> http://host/admin/]`, in gobuster 3.x;
2.x wrote `/admin (Status: 301)`. An empty file is a clean run. The paths are relative to the
URL gobuster was given (`-u`), which the report does not repeat: give it as the import's
`target` (e.g. `http://host/`) to record full URLs; without it the paths are findings located at
the path only, and the redirect target (when a line has one) names the host.

Every line becomes a `url` item (status, size, redirect target) and an `info` finding
`discovered-path`.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from scans.engine.runtime import FindingData
from scans.tools.kit.detect import text_lines
from scans.tools.kit.discovery import url_found
from scans.tools.kit.reports import ParsedReport, bulk_parser, dedupe
from scans.tools.kit.tool import ReportFormat, Tool
from scans.tools.kit.values import canonical_url

TOOL = "gobuster"
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
    help="Paths found by gobuster dir (its -o output).",
    order=61,
    imports_only=True,
    sarif_uri="https://github.com/OJ/gobuster",
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
    report.findings = dedupe(report.findings)
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
