"""Normalizing the items a scan step is about to touch, so scope checks compare like with like.

Items come from the engine and from tools (a redirect, a CNAME, a port scan), so they are not
trusted to be canonical: each is parsed into the key the matcher looks up. A value that does not
parse is never in scope; the parse error is the reason.

The host parser is the hot path of every scope check: it uses `socket.inet_pton` (strict, the
same addresses `ipaddress` accepts) and one regular expression, not `ipaddress` objects.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from targets.parsing import (
    ImageRef,
    TargetParseError,
    _alabels,
    parse_url,
    shown,
    split_image,
    split_repo,
)

_HOSTNAME_RE = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)
_SERVICE_RE = re.compile(r"(\[[^\]]+\]|[^:/\[\]]+):([0-9]{1,5})/([a-z]+)")
_URL_RE = re.compile(r"(https?)://([^/?#]+)([^?#]*)(?:\?([^#]*))?", re.IGNORECASE)
_MAPPED_V4_PREFIX = 0xFFFF


class ItemError(ValueError):
    """An item value that cannot be in scope because it does not parse."""


@dataclass(frozen=True, slots=True)
class HostKey:
    """A host: either a name (lower-case A-labels) or an address (version + integer)."""

    name: str  # canonical text: "example.com", "10.0.0.1", "2001:db8::1"
    version: int = 0  # 0 for names, 4 or 6 for addresses
    number: int = 0  # the address as an integer
    # For ::ffff:a.b.c.d (matched as IPv4 a.b.c.d): the IPv6 number, so that IPv6 exclusions
    # still apply to it. IPv6 authorizations do not cover it: it is an IPv4 host.
    mapped_from: int | None = None

    @property
    def as_ipv6(self) -> HostKey | None:
        return HostKey(self.name, 6, self.mapped_from) if self.mapped_from is not None else None


@dataclass(frozen=True, slots=True)
class UrlKey:
    origin: str  # scheme://host[:port] (default port stripped)
    host: HostKey
    path: str
    query: str


def host_key(value: str) -> HostKey:
    """Parse a host item value: an IPv4/IPv6 address (brackets allowed) or a host name."""
    if not value or len(value) > 255:
        raise ItemError(f"`{shown(value)}` is not a host")
    text = value[1:-1] if value[0] == "[" and value[-1] == "]" else value
    if ":" in text:
        try:
            number = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
        except OSError:
            raise ItemError(f"`{shown(value)}` is not a valid IPv6 address") from None
        if number >> 32 == _MAPPED_V4_PREFIX:  # ::ffff:a.b.c.d is a.b.c.d on the wire
            v4 = number & 0xFFFFFFFF
            return HostKey(socket.inet_ntop(socket.AF_INET, v4.to_bytes(4, "big")), 4, v4, number)
        return HostKey(socket.inet_ntop(socket.AF_INET6, number.to_bytes(16, "big")), 6, number)
    last = text[-1]
    if "0" <= last <= "9":
        try:
            packed = socket.inet_pton(socket.AF_INET, text)
        except OSError:
            pass
        else:
            return HostKey(text, 4, int.from_bytes(packed, "big"))
    if last == ".":
        text = text[:-1]
    if text.isascii():
        name = text.lower()
    else:
        try:
            name = _alabels(text, text)
        except TargetParseError as exc:
            raise ItemError(str(exc)) from None
    if not _HOSTNAME_RE.fullmatch(name) or name.rpartition(".")[2].isdigit():
        raise ItemError(f"`{shown(value)}` is not a valid host name or address")
    return HostKey(name)


def service_host(value: str) -> HostKey:
    """The host of a service item `host:port/proto` (`[::1]:80/tcp`)."""
    match = _SERVICE_RE.fullmatch(value)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ItemError(f"`{shown(value)}` is not a service (host:port/proto)")
    return host_key(match.group(1))


def url_key(value: str) -> UrlKey:
    """Scheme, host, port, path and query of a URL item, normalized like URL targets."""
    match = _URL_RE.match(value)
    if match is None:
        raise ItemError(f"`{shown(value)}` is not an http(s) URL")
    try:
        canonical = parse_url(value, value)
    except TargetParseError as exc:
        raise ItemError(str(exc)) from None
    match = _URL_RE.match(canonical)
    assert match is not None  # parse_url's output always has this shape
    scheme, hostport, path, query = match.groups()
    if hostport.startswith("["):
        host_text = hostport[: hostport.index("]") + 1]
    else:
        host_text = hostport.partition(":")[0]
    return UrlKey(f"{scheme}://{hostport}", host_key(host_text), path or "/", query or "")


def image_ref(value: str) -> ImageRef:
    try:
        ref = split_image(value, value.strip())
    except TargetParseError as exc:
        raise ItemError(str(exc)) from None
    if ref.is_prefix:
        raise ItemError(f"`{shown(value)}` is a prefix, not an image")
    return ref


def repo_path(value: str) -> str:
    try:
        return split_repo(value, value.strip()).scope_path
    except TargetParseError as exc:
        raise ItemError(str(exc)) from None


def url_path_prefixes(path: str) -> list[str]:
    """Every path a URL target could have and still cover `path`: the path itself, and each
    ancestor with and without its trailing slash ('/a/b' -> '/a/b', '/', '/a', '/a/')."""
    prefixes = [path]
    index = path.find("/")
    while index != -1:
        if index:
            prefixes.append(path[:index])
        prefixes.append(path[: index + 1])
        index = path.find("/", index + 1)
    return prefixes
