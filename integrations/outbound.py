"""Posting one message to a webhook URL: bounded in time, never following redirects, never
reaching internal addresses unless the operator allows it, and never writing the URL anywhere
(it is the secret: whoever has a Slack or Discord webhook URL can post to the channel)."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings

USER_AGENT = "Outpost-Notifier/1.0"


@dataclass
class Attempt:
    """What one try to deliver did. `retryable`: the failure may pass (5xx, 429, timeout,
    connection error); a 4xx or a refused URL will not, so it is not retried."""

    ok: bool
    retryable: bool = False
    response_code: int | None = None
    error: str = ""
    retry_after_s: float | None = None
    duration_ms: float = 0.0


class UrlRefused(ValueError):
    """The URL may not be used (wrong scheme, internal address while those are not allowed)."""


def _host_addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UrlRefused(f"the host name does not resolve ({exc.strerror or exc})") from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def url_problem(url: str, *, resolve: bool = True) -> str:
    """Why `url` cannot be a webhook URL, or "" when it can. The message never repeats the URL."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    if parts.username or parts.password:
        return "must not contain a user name or password"
    if len(url) > 2000:
        return "is longer than 2000 characters"
    if settings.INTEGRATIONS_ALLOW_PRIVATE_URLS or not resolve:
        return ""
    try:
        addresses = _host_addresses(parts.hostname, port)
    except UrlRefused as exc:
        return str(exc)
    internal = [a for a in addresses if not a.is_global]
    if internal:
        return (
            "points at an internal address; set INTEGRATIONS_ALLOW_PRIVATE_URLS=true to allow "
            "receivers on private networks"
        )
    return ""


def redact(text: str, url: str) -> str:
    """`text` without the URL or its path (an exception message may quote either)."""
    parts = urlsplit(url)
    for secret in sorted({url, url.rstrip("/"), parts.path, parts.query}, key=len, reverse=True):
        if secret and len(secret) > 1:
            text = text.replace(secret, "[webhook url]")
    return text


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def post_json(url: str, body: bytes, headers: dict[str, str]) -> Attempt:
    """POST `body` (JSON) to `url` once. 2xx is delivered; 5xx, 429, timeouts and connection
    errors may be retried; anything else (4xx, a redirect) is final."""
    problem = url_problem(url)
    if problem:
        return Attempt(ok=False, error=f"webhook URL refused: {problem}")
    started = time.monotonic()
    try:
        with httpx.Client(
            timeout=settings.DELIVERY_TIMEOUT_S,
            follow_redirects=False,
            trust_env=False,
            proxy=settings.INTEGRATIONS_PROXY or None,
            headers={"User-Agent": USER_AGENT},
        ) as client:
            response = client.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
    except httpx.TimeoutException as exc:
        return Attempt(
            ok=False, retryable=True, duration_ms=_ms(started),
            error=f"timed out after {settings.DELIVERY_TIMEOUT_S} s ({type(exc).__name__})",
        )  # fmt: skip
    except httpx.HTTPError as exc:
        return Attempt(
            ok=False, retryable=True, duration_ms=_ms(started),
            error=redact(f"{type(exc).__name__}: {exc}", url)[:500],
        )  # fmt: skip
    code = response.status_code
    duration = _ms(started)
    if 200 <= code < 300:
        return Attempt(ok=True, response_code=code, duration_ms=duration)
    answer = redact(response.text[:200].strip(), url)
    error = f"HTTP {code}" + (f": {answer}" if answer else "")
    if code >= 500 or code == 429:
        return Attempt(
            ok=False, retryable=True, response_code=code, error=error,
            retry_after_s=_retry_after(response), duration_ms=duration,
        )  # fmt: skip
    if 300 <= code < 400:
        error = f"HTTP {code}: redirects are not followed (is the webhook URL current?)"
    return Attempt(ok=False, response_code=code, error=error, duration_ms=duration)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
