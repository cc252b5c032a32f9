"""Turn what a user typed into a typed, normalized target, or refuse it with a precise reason.

`parse_target(raw, kind=None)` is the only way a string becomes a Target value. Kinds:

- `domain`: a host name, optionally `*.example.com` (covers subdomains, not the apex).
  Lower-cased, IDNA (UTS #46) A-labels, trailing dot dropped.
- `ip`: IPv4 or IPv6, compressed form; IPv4-mapped IPv6 (`::ffff:10.0.0.1`) becomes IPv4.
- `cidr`: a network with its prefix length; host bits must be zero.
- `url`: http or https only; host normalized, default port stripped, fragment dropped,
  characters outside RFC 3986 percent-encoded, no credentials.
- `image`: a container image reference (docker grammar), normalized the way docker does
  (`nginx` -> `docker.io/library/nginx`); `registry/org/*` is a repository-prefix target.
- `repo`: a git URL, https (`https://host/org/repo.git`) or ssh (`git@host:org/repo.git`,
  `ssh://git@host/org/repo.git`), normalized to one URL form per transport.

Why so strict: these values end up as arguments of scanning tools. Tools get argument lists
(never shell strings), and on top of that no accepted value contains whitespace, control
characters or shell metacharacters outside URLs, and no value can start with `-` (which a tool
would read as an option). Everything accepted is ASCII.

Layout: `base` (the error, limits, checks shared by every kind), `hosts` (domains, IPs, CIDRs,
URLs), `references` (images, repositories); detection and `parse_target` live here.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from targets.parsing.base import (
    _SCHEME_RE,
    KINDS,
    MAX_VALUE_LENGTH,
    TargetParseError,
    _char_name,
    _trimmed,
    shown,
)
from targets.parsing.hosts import (
    _alabels,
    parse_cidr,
    parse_domain,
    parse_hostname,
    parse_ip,
    parse_url,
)
from targets.parsing.references import (
    _SCP_RE,
    ImageRef,
    RepoRef,
    parse_image,
    parse_repo,
    repo_scope_path,
    split_image,
    split_repo,
)

__all__ = [
    "KINDS", "MAX_VALUE_LENGTH", "ImageRef", "ParsedTarget", "RepoRef",
    "TargetParseError", "_alabels", "detect_kind", "parse_cidr", "parse_domain", "parse_hostname",
    "parse_image", "parse_ip", "parse_repo", "parse_target", "parse_url", "repo_scope_path", "shown",
    "split_image", "split_repo",
]  # fmt: skip

_NEVER_SCHEMES = ("javascript", "data", "file", "vbscript", "about", "blob", "filesystem")
_IPISH_RE = re.compile(r"\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[^\]]*)?\]?")
# Characters outside URLs that no non-URL kind uses; reported precisely in auto-detection.
_PLAIN_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@/*[]%~+-"
)


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    kind: str
    value: str  # normalized, ASCII, what is stored and compared
    raw: str  # what the user typed, trimmed

    @property
    def is_wildcard(self) -> bool:
        return self.kind == "domain" and self.value.startswith("*.")

    @property
    def is_prefix(self) -> bool:
        return self.kind == "image" and self.value.endswith("/*")


_PARSERS = {
    "domain": parse_domain,
    "ip": parse_ip,
    "cidr": parse_cidr,
    "url": parse_url,
    "image": parse_image,
    "repo": parse_repo,
}


# --- detection -----------------------------------------------------------------------------


def _refuse_dangerous_scheme(raw: str, text: str) -> None:
    match = _SCHEME_RE.match(text)
    if match and match.group(1).lower() in _NEVER_SCHEMES:
        raise TargetParseError(
            raw, f"`{match.group(1).lower()}:` URLs are never targets; only http and https"
        )


def detect_kind(raw: str, text: str | None = None) -> str:
    """Which kind a trimmed value is, or a TargetParseError saying why it cannot be told."""
    text = _trimmed(raw) if text is None else text
    _refuse_dangerous_scheme(raw, text)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme in ("http", "https"):
            try:
                path = urlsplit(text).path
            except ValueError:
                return "url"  # parse_url gives the precise error
            return "repo" if path.rstrip("/").endswith(".git") else "url"
        if scheme in ("ssh", "git+ssh", "git"):
            return "repo"
        raise TargetParseError(
            raw,
            f"unsupported scheme `{scheme}://`: URLs are http or https, repositories https or ssh",
        )
    scp = _SCP_RE.fullmatch(text)
    if scp and ("/" in scp.group(3) or scp.group(3).endswith(".git")):
        return "repo"  # git@host:org/repo.git (and not image@sha256:…)
    if text.isascii():
        bad = next((c for c in text if c not in _PLAIN_CHARS), None)
        if bad is not None:
            raise TargetParseError(
                raw, f"character {_char_name(bad)} is not allowed here (only inside http(s) URLs)"
            )
    if "/" in text:
        head = text.split("/", 1)[0]
        return "cidr" if _looks_like_ip(head) else "image"
    if _looks_like_ip(text) or re.fullmatch(r"[0-9.]+", text):
        return "ip"
    if text.startswith("*."):
        return "domain"
    if "@" in text or ":" in text:
        name, _, tag = text.partition("@")[0].rpartition(":")
        if tag.isdigit() and "." in name:
            raise TargetParseError(
                raw,
                "looks like host:port; for a web service write a URL (http://host:port/), for an image choose kind image",
            )
        return "image"
    if "." in text or (not text.isascii() and any(dot in text for dot in "\u3002\uff0e\uff61")):
        return "domain"  # (UTS #46 maps the ideographic and full-width full stops to '.')
    raise TargetParseError(raw, "cannot tell whether this is a domain or an image; choose the kind")


def _looks_like_ip(text: str) -> bool:
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except OSError:
            continue
    return bool(_IPISH_RE.fullmatch(text)) and text.count(":") >= 2


def parse_target(raw: object, kind: str | None = None) -> ParsedTarget:
    """The one way a user's string becomes a target: typed, normalized, or a precise error.

    `kind` may be given (one of KINDS); when it is not, it is detected."""
    text = _trimmed(raw)
    if kind:
        if kind not in _PARSERS:
            raise TargetParseError(
                text, f"unknown kind `{shown(kind, 20)}` (one of {', '.join(KINDS)})"
            )
    else:
        kind = detect_kind(text, text)
    value = _PARSERS[kind](text, text)
    if len(value) > MAX_VALUE_LENGTH:
        raise TargetParseError(
            text, f"is longer than {MAX_VALUE_LENGTH} characters once normalized"
        )
    return ParsedTarget(kind=kind, value=value, raw=text)
