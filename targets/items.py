"""Items, what flows between the steps of a scan (`Item`: a host, service, URL, image or repo), and
normalizing the items a step is about to touch, so scope checks compare like with like.

Items come from the engine and from tools (a redirect, a CNAME, a port scan), so they are not
trusted to be canonical: each is parsed into the key the matcher looks up. A value that does not
parse is never in scope; the parse error is the reason.

This is the hot path of every scope check (the matcher's own lookups are a few dict probes), so
the common, already-canonical shapes take a fast path: one regular expression, then the same
host parser. Anything the fast path does not recognise goes through targets.parsing, the same
code that normalizes targets; tests/targets/test_scope.py checks that both paths agree.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from targets.parsing import (
    ImageRef,
    TargetParseError,
    _alabels,
    parse_url,
    shown,
    split_image,
    split_repo,
)

# What flows between workflow steps. Scope decisions are made on these (this module), so they are
# defined beside the normalization that reads them.
ITEM_KINDS = ("host", "service", "url", "image", "repo")


@dataclass(frozen=True)
class Item:
    """Something a step works on. `value` is canonical and is what scope checks see:
    host "example.com" / "127.0.0.1" / "::1"; service "127.0.0.1:8080/tcp" ("[::1]:80/tcp");
    url "http://127.0.0.1:8080/"; image "nginx:1.25"; repo "https://github.com/o/r.git".
    `attrs` carry what was learned (port, banner, status, title…) and do not affect identity."""

    kind: str
    value: str
    attrs: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def service(cls, host: str, port: int, proto: str = "tcp", **attrs: Any) -> Item:
        shown = f"[{host}]" if ":" in host else host
        return cls(
            "service",
            f"{shown}:{port}/{proto}",
            {"host": host, "port": port, "proto": proto, **attrs},
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "attrs": dict(self.attrs)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        return cls(str(data["kind"]), str(data["value"]), dict(data.get("attrs") or {}))


_HOSTNAME_RE = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)
_SERVICE_RE = re.compile(r"(\[[^\]]+\]|[^:/\[\]]+):([0-9]{1,5})/([a-z]+)")
_URL_RE = re.compile(r"(https?)://([^/?#]+)([^?#]*)(?:\?([^#]*))?", re.IGNORECASE)
# Already-normalized URLs: lower-case scheme and host, and only characters that normalization
# keeps as they are (no '%', so no percent-encoding to check).
_CANONICAL_URL_RE = re.compile(
    r"(https?)://([a-z0-9._-]+|\[[0-9a-f.]*:[0-9a-f:.]*\])(?::([0-9]{1,5}))?"
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?(?:\?([A-Za-z0-9._~!$&'()*+,;=:@/?-]*))?(?:#.*)?"
)
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_CANONICAL_IMAGE_RE = re.compile(
    rf"(?:((?:{_LABEL}(?:\.{_LABEL})+|localhost)(?::([0-9]{{1,5}}))?)/)?"
    rf"({_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?"
)
_CANONICAL_HTTPS_REPO_RE = re.compile(
    r"https?://([a-z0-9.-]+)(?::([0-9]{1,5}))?/((?:[A-Za-z0-9_~+][A-Za-z0-9._~+-]*/)*[A-Za-z0-9_~+][A-Za-z0-9._~+-]*?)(?:\.git)?/?"
)
_MAPPED_V4_PREFIX = 0xFFFF
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ItemError(ValueError):
    """An item value that cannot be in scope because it does not parse."""


class HostKey(NamedTuple):
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

    @property
    def in_url(self) -> str:
        return f"[{self.name}]" if self.version == 6 else self.name


class UrlKey(NamedTuple):
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
    fast = _CANONICAL_URL_RE.fullmatch(value)
    if fast is None:
        return url_key_normalized(value)
    scheme, host_text, port_text, path, query = fast.groups()
    host = host_key(host_text)
    port = int(port_text) if port_text else None
    if port is not None and not 0 < port < 65536:
        raise ItemError(f"`{shown(value)}`: port must be 1\u201365535")
    hostport = (
        host.in_url if port is None or port == _DEFAULT_PORTS[scheme] else f"{host.in_url}:{port}"
    )
    return UrlKey(f"{scheme}://{hostport}", host, path or "/", query or "")


def url_key_normalized(value: str) -> UrlKey:
    """url_key through the full URL normalization of targets (any URL the fast path skips)."""
    original = _URL_RE.match(value)
    if original is None:
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
    host = host_key(host_text)
    netloc = original.group(2)
    if host.version == 4 and netloc.startswith("[") and "]" in netloc:
        host = host_key(netloc[: netloc.index("]") + 1])  # keep what an IPv4-mapped host was
    return UrlKey(f"{scheme}://{hostport}", host, path or "/", query or "")


def image_ref(value: str) -> ImageRef:
    """A normalized image reference (docker rules); prefixes are not images."""
    fast = _CANONICAL_IMAGE_RE.fullmatch(value)
    if fast is not None:
        domain, port, path, tag, digest = fast.groups()
        first = path.partition("/")[0]
        # Docker reads a first component with '.' (or "localhost") as a registry only before a
        # '/'; those shapes, and odd ports, take the full parser.
        if (domain is not None or ("." not in first and first != "localhost")) and (
            port is None or 0 < int(port) < 65536
        ):
            if domain is None or domain == "docker.io" or domain == "index.docker.io":
                domain = "docker.io"
                if "/" not in path:
                    path = f"library/{path}"
            name = f"{domain}/{path}"
            if len(name) <= 255:
                return ImageRef(name, tag or "", digest or "")
    return image_ref_normalized(value)


def image_ref_normalized(value: str) -> ImageRef:
    try:
        ref = split_image(value, value.strip())
    except TargetParseError as exc:
        raise ItemError(str(exc)) from None
    if ref.is_prefix:
        raise ItemError(f"`{shown(value)}` is a prefix, not an image")
    return ref


def repo_path(value: str) -> str:
    """host/org/repo of a repository item, whatever its transport."""
    fast = _CANONICAL_HTTPS_REPO_RE.fullmatch(value)
    if fast is not None:
        host, port, path = fast.groups()
        if (
            _HOSTNAME_RE.fullmatch(host)
            and not host.rpartition(".")[2].isdigit()
            and (port is None or 0 < int(port) < 65536)
        ):
            return f"{host}/{path}"
    return repo_path_normalized(value)


def repo_path_normalized(value: str) -> str:
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
