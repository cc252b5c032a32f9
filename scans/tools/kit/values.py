"""Reading and writing the canonical item values the built-in tools exchange.

service "127.0.0.1:8080/tcp", "[::1]:443/tcp", "example.com:22/tcp"; endpoint "host:port" (IPv6 in
brackets); url "https://example.com/" (lower-case scheme and host, default port dropped, path at
least "/", no fragment).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

_SERVICE = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.%]+)\]|(?P<host>[^\s:/\[\]]+)):(?P<port>\d{1,5})/(?P<proto>tcp|udp)$"
)
_ENDPOINT = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.%]+)\]|(?P<host>[^\s:/\[\]]+)):(?P<port>\d{1,5})$"
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def show_host(host: str) -> str:
    """The host as it appears before ":port" in a service, endpoint or URL."""
    return f"[{host}]" if ":" in host else host


def parse_service(value: str) -> tuple[str, int, str]:
    """(host, port, proto) of a service value; ValueError when it is not one."""
    match = _SERVICE.match(value.strip())
    if not match:
        raise ValueError(f"not a service value (host:port/proto): {value!r}")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"port out of range in {value!r}")
    return match["v6"] or match["host"], port, match["proto"]


def endpoint(host: str, port: int) -> str:
    return f"{show_host(host)}:{port}"


def parse_endpoint(value: str) -> tuple[str, int]:
    """(host, port) of "host:port" / "[v6]:port"; ValueError when it is not one."""
    match = _ENDPOINT.match(value.strip())
    if not match:
        raise ValueError(f"not a host:port endpoint: {value!r}")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"port out of range in {value!r}")
    return match["v6"] or match["host"], port


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, default port dropped, empty path as "/", fragment dropped.
    Raises ValueError for anything but an absolute http(s) URL with a host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"URL without a host: {url!r}")
    port = parts.port  # raises ValueError for a port out of range
    netloc = show_host(host)
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def url_endpoint(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, the port defaulted from the scheme."""
    parts = urlsplit(canonical_url(url))
    host = parts.hostname or ""
    return parts.scheme, host, parts.port or DEFAULT_PORTS[parts.scheme]


def url_for(scheme: str, host: str, port: int) -> str:
    return canonical_url(f"{scheme}://{show_host(host)}:{port}/")


def url_or_blank(value: object) -> str:
    """`canonical_url` of a value reports give as a URL, "" when it is none."""
    try:
        return canonical_url(str(value or ""))
    except ValueError:
        return ""
