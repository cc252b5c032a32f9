"""What every kind shares: the error, the value limits, the checks on any input."""

from __future__ import annotations

import re
import unicodedata

MAX_VALUE_LENGTH = 2048
_DASH = "\u2013"  # an en dash: ranges read "0\u201332" as in the written messages
KINDS = ("domain", "ip", "cidr", "url", "image", "repo")

# Whitespace, C0/C1 controls, soft hyphen, zero-width and bidi-override characters (the
# "trojan source" family): never part of a target, whatever the kind.
_BAD_CHAR_RE = re.compile(
    r"[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


class TargetParseError(ValueError):
    """A value that is not a valid target; the message names the value and the reason."""

    def __init__(self, raw: object, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"`{shown(raw)}`: {reason}")


def shown(raw: object, limit: int = 80) -> str:
    """A value as it can be safely quoted in a message: control characters escaped, cut short."""
    text = raw if isinstance(raw, str) else repr(raw)
    if len(text) <= limit and text.isprintable():
        return text
    out: list[str] = []
    for ch in text[:limit]:
        if ch == " " or not (_BAD_CHAR_RE.match(ch) or unicodedata.category(ch).startswith("C")):
            out.append(ch)
        else:
            out.append(
                {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x00": "\\0"}.get(ch, f"\\u{ord(ch):04x}")
            )
    return "".join(out) + ("…" if len(text) > limit else "")


def _char_name(ch: str) -> str:
    return f"'{ch}'" if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"


def _trimmed(raw: object) -> str:
    """Checks every kind shares. Returns the value without surrounding whitespace."""
    if not isinstance(raw, str):
        raise TargetParseError(raw, "a target must be text")
    if "\x00" in raw:
        raise TargetParseError(raw, "contains a NUL byte")
    text = raw.strip()
    if not text:
        raise TargetParseError(raw, "is empty")
    if len(text) > MAX_VALUE_LENGTH:
        raise TargetParseError(raw, f"is longer than {MAX_VALUE_LENGTH} characters ({len(text)})")
    if text.startswith("-"):
        raise TargetParseError(
            raw, "starts with '-': a target never does (a tool would read it as an option)"
        )
    bad = _BAD_CHAR_RE.search(text)
    if bad:
        what = "whitespace" if bad.group().isspace() else "a control or invisible character"
        raise TargetParseError(
            raw, f"contains {what} ({_char_name(bad.group())}); give one target per value"
        )
    return text
