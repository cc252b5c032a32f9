"""Posting one message to a webhook URL: bounded in time, never following redirects, never
reaching internal addresses unless the operator allows it (IPv4 hidden in IPv6 forms included,
and the connection pinned to the address that was checked, against DNS rebinding), Slack and
Discord only on their own hosts, and never writing the URL anywhere (it is the secret: whoever
has a Slack or Discord webhook URL can post to the channel)."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

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


Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes whose low 32 bits are an IPv4 address the packet ends up at (RFC 6052 NAT64
# well-known and local-use prefixes, RFC 6145 IPv4-translated, RFC 4291 IPv4-compatible).
_LOW32_PREFIXES = [
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("::/96"),
]


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`),
    IPv4-compatible (`::a.b.c.d`), IPv4-translated, NAT64 (`64:ff9b::a.b.c.d`), 6to4
    (`2002:AABB:CCDD::`) and Teredo (server and client)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found += list(address.teredo)
    if any(address in prefix for prefix in _LOW32_PREFIXES):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def address_is_internal(address: Address) -> bool:
    """Whether a webhook may not go to `address`: anything but a global unicast address, and any
    IPv6 form whose embedded IPv4 is not global. Python calls `64:ff9b::a9fe:a9fe` (NAT64 of
    169.254.169.254, the cloud metadata service) or `2002:7f00:1::` (6to4 of 127.0.0.1) global;
    the network on the way turns them back into the IPv4 they carry."""
    if not address.is_global or address.is_multicast:
        return True
    return any(not v4.is_global or v4.is_multicast for v4 in embedded_ipv4(address))


class HostUnresolved(UrlRefused):
    """The host name has no address right now (may pass: DNS hiccup)."""


def _resolve(host: str, port: int) -> list[Address]:
    """The host's addresses, from the system resolver (/etc/hosts and resolv.conf count)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise HostUnresolved(f"the host name does not resolve ({exc.strerror or exc})") from None
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class Destination:
    """Where one attempt connects. `connect_urls` name the addresses that were resolved and
    checked, in the resolver's order (pinned: the HTTP client never resolves the name again);
    `host_header` and `sni_hostname` keep the name for the receiver and for TLS verification."""

    url: str
    connect_urls: tuple[str, ...]
    host_header: str
    sni_hostname: str


def url_destination(
    url: str, *, allowed_hosts: list[str] | None = None, resolve: bool = True
) -> Destination:
    """Check `url` as a webhook URL and decide where to connect, or raise UrlRefused (the message
    never repeats the URL). `allowed_hosts`: the only host names the kind may post to (Slack and
    Discord); None for any.

    The host is resolved once and the connection goes to those addresses, each of which was
    checked when internal addresses are not allowed (production): a DNS answer that changes
    between the check and the connection (rebinding) cannot send the request inside. Every
    attempt resolves and checks again; redirects are never followed. Through
    INTEGRATIONS_PROXY the proxy resolves and connects (handed an address, TLS through its
    tunnel would verify the address instead of the name), so the check is made and the proxy
    is the egress control. `resolve=False` checks the form only, when nothing needs resolving
    (internal addresses allowed)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlRefused("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise UrlRefused("must not contain a user name or password")
    if len(url) > 2000:
        raise UrlRefused("is longer than 2000 characters")
    host = parts.hostname.rstrip(".").lower()
    if allowed_hosts is not None and host not in {h.lower() for h in allowed_hosts}:
        raise UrlRefused(f"must be on {' or '.join(allowed_hosts) or 'an allowed host'}")
    host_header = parts.netloc.rsplit("@", 1)[-1]
    unchanged = Destination(url=url, connect_urls=(url,), host_header=host_header, sni_hostname="")
    if not resolve:
        return unchanged
    literal = _ip_literal(host)
    addresses = [literal] if literal else _resolve(host, port)
    if not settings.INTEGRATIONS_ALLOW_PRIVATE_URLS and any(
        address_is_internal(a) for a in addresses
    ):
        raise UrlRefused(
            "points at an internal address; set INTEGRATIONS_ALLOW_PRIVATE_URLS=true to allow "
            "receivers on private networks"
        )
    if literal or settings.INTEGRATIONS_PROXY:
        return unchanged
    connect_urls = []
    for address in addresses:
        netloc = f"[{address}]" if address.version == 6 else str(address)
        if parts.port:
            netloc += f":{parts.port}"
        connect_urls.append(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))
    return Destination(
        url=url,
        connect_urls=tuple(connect_urls),
        host_header=host_header,
        sni_hostname=host if parts.scheme == "https" else "",
    )


def _ip_literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def url_problem(url: str, *, allowed_hosts: list[str] | None = None) -> str:
    """Why `url` cannot be a webhook URL, or "" when it can. The message never repeats the URL.
    The host is resolved (and its addresses checked) only when internal addresses are refused."""
    try:
        url_destination(
            url,
            allowed_hosts=allowed_hosts,
            resolve=not settings.INTEGRATIONS_ALLOW_PRIVATE_URLS,
        )
    except UrlRefused as exc:
        return str(exc)
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


def post_json(
    url: str, body: bytes, headers: dict[str, str], *, allowed_hosts: list[str] | None = None
) -> Attempt:
    """POST `body` (JSON) to `url` once, connecting only to addresses that were resolved and
    checked for this attempt (`url_destination`), the next one when one refuses the connection.
    2xx is delivered; 5xx, 429, timeouts, connection errors and a name that does not resolve may
    be retried; anything else (4xx, a redirect, a refused URL) is final."""
    try:
        destination = url_destination(url, allowed_hosts=allowed_hosts)
    except HostUnresolved as exc:
        return Attempt(ok=False, retryable=True, error=f"webhook URL not reachable: {exc}")
    except UrlRefused as exc:
        return Attempt(ok=False, error=f"webhook URL refused: {exc}")
    started = time.monotonic()
    extensions = {"sni_hostname": destination.sni_hostname} if destination.sni_hostname else {}
    try:
        with httpx.Client(
            timeout=settings.DELIVERY_TIMEOUT_S,
            follow_redirects=False,
            trust_env=False,
            proxy=settings.INTEGRATIONS_PROXY or None,
            headers={"User-Agent": USER_AGENT},
        ) as client:
            for index, connect_url in enumerate(destination.connect_urls):
                try:
                    response = client.post(
                        connect_url,
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            **headers,
                            "Host": destination.host_header,
                        },
                        extensions=extensions,
                    )
                    break
                except httpx.ConnectError:
                    if index == len(destination.connect_urls) - 1:
                        raise
    except httpx.TimeoutException as exc:
        return Attempt(
            ok=False, retryable=True, duration_ms=_ms(started),
            error=f"timed out after {settings.DELIVERY_TIMEOUT_S} s ({type(exc).__name__})",
        )  # fmt: skip
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
        for secret in (*destination.connect_urls, url):
            error = redact(error, secret)
        return Attempt(ok=False, retryable=True, duration_ms=_ms(started), error=error[:500])
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
