"""The bundled wordlists (scans/tools/wordlists/: their source and licence in SOURCES.md) and the
values the web discovery tools share (status code lists).

Container tools get a wordlist as a file mounted read-only at /input; a cut of a list (the first
N words) is written once per process to a temporary folder and mounted from there."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path

from scans.tools.kit import fields
from scans.tools.kit.invoke import Plan, numbered_plans, own_subjects
from scans.tools.kit.options import ConfigField

WORDLIST_DIR = Path(__file__).resolve().parent.parent / "wordlists"
CONTENT_WORDLIST = WORDLIST_DIR / "content.txt"
# Choices of the content wordlist: how many of the bundled words (None: all of them).
CONTENT_WORDLISTS: dict[str, int | None] = {"default": None, "small": 1000}
DISCOVERY_STATUSES = "200-299,301,302,307,401,403,405,500"
_lock = threading.Lock()


@cache
def bundled_words(path: Path = CONTENT_WORDLIST) -> tuple[str, ...]:
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def content_wordlist(choice: str) -> Path:
    """A file holding the chosen cut of the content wordlist."""
    count = CONTENT_WORDLISTS[choice]
    if count is None:
        return CONTENT_WORDLIST
    words = "\n".join(bundled_words()[:count]) + "\n"
    digest = hashlib.sha256(words.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / "outpost-wordlists" / f"content-{count}-{digest}.txt"
    with _lock:
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_text(words)
            partial.replace(path)
    return path


def parse_statuses(text: str) -> set[int]:
    """ "200-299,301" -> the codes; each 100-599."""
    codes: set[int] = set()
    for raw in str(text).split(","):
        part = raw.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"{part!r} is not a status code or range") from None
        if not 100 <= first <= last <= 599:
            raise ValueError(f"{part!r}: status codes are 100-599, low-high")
        codes.update(range(first, last + 1))
    if not codes:
        raise ValueError("name at least one status code")
    return codes


def discovery_fields(*, calibrate: str, threads: str, request_timeout: str) -> list[ConfigField]:
    """The options the container content-discovery tools (ffuf, gobuster) share; the help texts
    name each tool's own flags."""
    return [
        fields.choice("wordlist", "default", CONTENT_WORDLISTS, "Bundled words: default (about 4600) or small (1000)"),
        fields.text("status_codes", DISCOVERY_STATUSES, 200, "Report answers with these codes", parse_statuses),
        fields.boolean("calibrate", True, calibrate),
        fields.integer("threads", 40, 1, 500, threads),
        fields.integer("timeout_s_request", 10, 1, 120, request_timeout),
    ]  # fmt: skip


def wordlist_plans(
    tool: str, bases: list[str], words: Path, argv: Callable[[str, str], list[str]], *, suffix: str
) -> list[Plan]:
    """One plan per base URL for a container content-discovery tool: `argv(base, report)`, where
    report is the /output path it writes (`<tool>-N.<suffix>`), the wordlist at /input/words.txt."""
    return numbered_plans(tool, own_subjects(bases), suffix, argv, input_files={"words.txt": words})
