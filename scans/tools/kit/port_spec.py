"""Port specifications: "top-100", "top-1000", "all", "22,80,8000-8100", or a mix of them.

Parsed strictly: every token is a keyword, a port 1-65535, or a range lo-hi with lo <= hi; errors
name the token. The result keeps the order given (top lists are most-frequent first, so a scan cut
short has covered the likeliest ports) without duplicates.
"""

from __future__ import annotations

import re

from scans.tools.kit import fields
from scans.tools.kit.options import ConfigField
from scans.tools.kit.top_ports import TOP_100_TCP, TOP_1000_TCP

MAX_PORT = 65535
MAX_SPEC_LENGTH = 2000
KEYWORDS: dict[str, tuple[int, ...]] = {
    "top-100": TOP_100_TCP,
    "top-1000": TOP_1000_TCP,
    "all": tuple(range(1, MAX_PORT + 1)),
}
_NUMBER = re.compile(r"^\d{1,5}$")
_PORTS_ONLY = re.compile(r"^[\d\s-]+$")


class PortSpecError(ValueError):
    pass


def _port(token: str, text: str) -> int:
    if not _NUMBER.match(text):
        raise PortSpecError(f"bad port {text!r} in {token!r}: ports are whole numbers 1-65535")
    port = int(text)
    if not 1 <= port <= MAX_PORT:
        raise PortSpecError(f"port {port} out of range 1-65535 in {token!r}")
    return port


def parse_port_spec(spec: str) -> list[int]:
    """The ports a spec names, in order, without duplicates; PortSpecError names a bad token."""
    if not isinstance(spec, str) or not spec.strip():
        raise PortSpecError("no ports given")
    if len(spec) > MAX_SPEC_LENGTH:
        raise PortSpecError(f"port list longer than {MAX_SPEC_LENGTH} characters")
    seen: dict[int, None] = {}
    for raw in spec.split(","):
        token = raw.strip().lower()
        if not token:
            raise PortSpecError(f"empty entry in {spec!r}")
        if token in KEYWORDS:
            seen.update(dict.fromkeys(KEYWORDS[token]))
        elif not _PORTS_ONLY.match(token):
            raise PortSpecError(
                f"unknown entry {raw.strip()!r}: use top-100, top-1000, all, a port or a range like 8000-8100"
            )
        elif "-" in token:
            low_text, _, high_text = token.partition("-")
            low, high = _port(token, low_text.strip()), _port(token, high_text.strip())
            if low > high:
                raise PortSpecError(f"range {token!r} runs backwards")
            seen.update(dict.fromkeys(range(low, high + 1)))
        else:
            seen[_port(token, token)] = None
    return list(seen)


def port_ranges(ports: list[int]) -> str:
    """22,80,81,82 → "22,80-82" (nmap's and masscan's -p syntax), in ascending order."""
    parts: list[str] = []
    ordered = sorted(set(ports))
    start = previous = ordered[0]
    for port in [*ordered[1:], -1]:
        if port == previous + 1:
            previous = port
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = port
    return ",".join(parts)


def ports_field(default: str, help_text: str) -> ConfigField:
    """The `ports` option of the port scanners (same syntax everywhere: parse_port_spec)."""
    return fields.text("ports", default, MAX_SPEC_LENGTH, help_text, parse_port_spec)
