"""What http_probe reads from a response: the page title, and missing security headers.

Severity of a missing header (rule ids are stable: they are part of the finding fingerprint):

    rule                              https   http
    missing-hsts                      low     (not checked: HSTS is ignored over plain HTTP)
    missing-csp                       low     info
    missing-x-content-type-options    low     info
    missing-x-frame-options           low     info   (a CSP frame-ancestors directive satisfies it)

Missing headers are hardening gaps, not vulnerabilities by themselves, hence low at most; over
plain HTTP an attacker on the path can strip or add any header, so they are only informational.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from scans.engine.runtime import FindingData

TITLE_MAX_CHARS = 200
_SPACES = re.compile(r"\s+")
OWASP_HEADERS = "https://owasp.org/www-project-secure-headers/"


def page_title(text: str, max_chars: int = TITLE_MAX_CHARS) -> str:
    """The first <title> of an HTML text, entities decoded, whitespace collapsed, cut to
    `max_chars`. Plain string searches (no regex backtracking) over the already size-capped body."""
    lower = text.lower()
    start = lower.find("<title")
    if start < 0:
        return ""
    open_end = lower.find(">", start)
    if open_end < 0:
        return ""
    close = lower.find("</title", open_end)
    raw = text[open_end + 1 : close if close >= 0 else open_end + 1 + max_chars * 4]
    title = _SPACES.sub(" ", html.unescape(raw)).strip()
    return title[:max_chars]


_RULES = (
    (
        "missing-hsts",
        "Strict-Transport-Security",
        "Send Strict-Transport-Security (e.g. max-age=31536000; includeSubDomains) on every HTTPS response.",
    ),
    (
        "missing-csp",
        "Content-Security-Policy",
        "Send a Content-Security-Policy that limits where scripts, styles and frames may come from.",
    ),
    (
        "missing-x-content-type-options",
        "X-Content-Type-Options",
        "Send X-Content-Type-Options: nosniff so browsers do not guess content types.",
    ),
    (
        "missing-x-frame-options",
        "X-Frame-Options",
        "Send X-Frame-Options: DENY (or SAMEORIGIN), or a CSP frame-ancestors directive.",
    ),
)


def missing_header_rules(
    headers: Mapping[str, str], *, is_https: bool
) -> list[tuple[str, str, str]]:
    """(rule id, header, remediation) for each security header this response lacks."""
    lowered = {name.lower(): value for name, value in headers.items()}
    csp = lowered.get("content-security-policy", "")
    missing = []
    for rule_id, header, remediation in _RULES:
        if rule_id == "missing-hsts" and not is_https:
            continue
        value = lowered.get(header.lower(), "").strip()
        if rule_id == "missing-x-content-type-options":
            present = value.lower() == "nosniff"
        elif rule_id == "missing-x-frame-options":
            present = bool(value) or "frame-ancestors" in csp.lower()
        else:
            present = bool(value)
        if not present:
            missing.append((rule_id, header, remediation))
    return missing


def security_header_findings(
    *, tool: str, url: str, item: str, status: int, headers: Mapping[str, str]
) -> list[FindingData]:
    """One finding per missing security header of the response to `url` (severity: see above)."""
    is_https = url.startswith("https://")
    return [
        FindingData(
            tool=tool,
            severity="low" if is_https else "info",
            title=f"Missing {header} header",
            rule_id=rule_id,
            description=f"The response to {url} (HTTP {status}) has no {header} header.",
            remediation=remediation,
            location=url,
            item=item,
            evidence={"url": url, "status": status, "header": header},
            references=[OWASP_HEADERS],
            tags=["http", "headers"],
        )
        for rule_id, header, remediation in missing_header_rules(headers, is_https=is_https)
    ]
