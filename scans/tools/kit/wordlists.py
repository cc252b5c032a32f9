"""The bundled wordlists (scans/tools/wordlists/: their source and licence in SOURCES.md) and the
values the web discovery tools share (status code lists).

Container tools get a wordlist as a file mounted read-only at /input; a cut of a list (the first
N words) is written once per process to a temporary folder and mounted from there."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from functools import cache
from pathlib import Path

WORDLIST_DIR = Path(__file__).resolve().parent.parent / "wordlists"
CONTENT_WORDLIST = WORDLIST_DIR / "content.txt"
# Choices of the content wordlist: how many of the bundled words (None: all of them).
CONTENT_WORDLISTS: dict[str, int | None] = {"default": None, "small": 1000}
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
