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
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, urlsplit

import idna

MAX_VALUE_LENGTH = 2048
_DASH = "\u2013"  # an en dash: ranges read "0\u201332" as in the written messages
KINDS = ("domain", "ip", "cidr", "url", "image", "repo")

# Whitespace, C0/C1 controls, soft hyphen, zero-width and bidi-override characters (the
# "trojan source" family): never part of a target, whatever the kind.
_BAD_CHAR_RE = re.compile(
    r"[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_HOSTNAME_RE = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_NEVER_SCHEMES = ("javascript", "data", "file", "vbscript", "about", "blob", "filesystem")
_SCP_RE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9._-]*)@([^/:@\[\]]+|\[[0-9A-Fa-f:.]+\]):(.+)")
_IPISH_RE = re.compile(r"\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[^\]]*)?\]?")
# Characters outside URLs that no non-URL kind uses; reported precisely in auto-detection.
_PLAIN_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@/*[]%~+-"
)

# Image references (github.com/distribution/reference grammar).
_IMAGE_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_IMAGE_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_RE = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([A-Za-z0-9=_-]{32,})")
_REGISTRY_HOST_RE = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
)
_REPO_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~+-]+")
_REPO_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
# Percent-encode everything outside RFC 3986 unreserved + reserved (and '%').
_URL_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_URL_SAFE_QUERY = _URL_SAFE_PATH + "?"
_STRAY_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class TargetParseError(ValueError):
    """A value that is not a valid target; the message names the value and the reason."""

    def __init__(self, raw: object, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"`{shown(raw)}`: {reason}")


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


class ImageRef(NamedTuple):
    """A normalized image reference: `domain/path[:tag][@digest]`, or a prefix `domain/path/*`."""

    name: str  # domain/path, e.g. docker.io/library/nginx
    tag: str = ""
    digest: str = ""
    is_prefix: bool = False

    def __str__(self) -> str:
        if self.is_prefix:
            return f"{self.name}/*"
        return (
            self.name
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


class RepoRef(NamedTuple):
    transport: str  # https | http | ssh | git
    user: str
    host: str  # lower-case, IPv6 in brackets
    port: int | None
    path: str  # org/repo, without ".git"

    @property
    def scope_path(self) -> str:
        """What identifies the repository whatever the transport: host/org/repo."""
        return f"{self.host}/{self.path}"

    def __str__(self) -> str:
        port = f":{self.port}" if self.port else ""
        user = f"{self.user}@" if self.user else ""
        return f"{self.transport}://{user}{self.host}{port}/{self.path}.git"


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


# --- kinds ---------------------------------------------------------------------------------


def _alabels(raw: str, text: str) -> str:
    """Lower-case ASCII labels, or IDNA (UTS #46, non-transitional) for internationalized ones."""
    if text.isascii():
        host = text.lower()
        for label in host.split("."):
            if label.startswith("xn--"):
                try:
                    idna.decode(label)
                except idna.IDNAError as exc:
                    raise TargetParseError(
                        raw, f"label `{label}` is not valid punycode ({exc})"
                    ) from None
        return host
    try:
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
        labels = [
            label if label.isascii() else idna.alabel(label).decode() for label in mapped.split(".")
        ]
    except (idna.IDNAError, UnicodeError) as exc:
        raise TargetParseError(raw, f"not a valid internationalized domain name ({exc})") from None
    return ".".join(labels).lower()


def parse_hostname(raw: str, text: str) -> str:
    """A host name (no wildcard): lower-case A-labels, at most 253 characters."""
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise TargetParseError(raw, "missing host name")
    host = _alabels(raw, text)
    if len(host) > 253:
        raise TargetParseError(raw, f"a domain name has at most 253 characters ({len(host)})")
    labels = host.split(".")
    for label in labels:
        if not label:
            raise TargetParseError(raw, "empty label (two dots in a row, or a leading dot)")
        if len(label) > 63:
            raise TargetParseError(raw, f"label `{label[:24]}…` is longer than 63 characters")
        if not _LABEL_RE.fullmatch(label):
            bad = next((c for c in label if not (c.isascii() and (c.isalnum() or c in "-_"))), None)
            if bad is not None:
                raise TargetParseError(
                    raw, f"character {_char_name(bad)} is not allowed in a domain name"
                )
            raise TargetParseError(raw, f"label `{label}` starts or ends with '-'")
    if labels[-1].isdigit():
        raise TargetParseError(
            raw, "the last label is all digits: neither a domain name nor an IP address"
        )
    return host


def parse_domain(raw: str, text: str) -> str:
    wildcard = text.startswith("*.")
    name = text[2:] if wildcard else text
    if "*" in name:
        raise TargetParseError(
            raw, "a wildcard is only allowed as the whole leftmost label: *.example.com"
        )
    host = parse_hostname(raw, name)
    if wildcard:
        if "." not in host:
            raise TargetParseError(
                raw, "a wildcard needs at least two labels after '*.' (e.g. *.example.com)"
            )
        return f"*.{host}"
    return host


def _address(raw: str, text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:
        raise TargetParseError(raw, "an IPv6 zone index (%…) is not allowed")
    try:
        if ":" in text:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(text)
        else:
            address = ipaddress.IPv4Address(text)
    except ipaddress.AddressValueError as exc:
        family = "IPv6" if ":" in text else "IPv4"
        raise TargetParseError(raw, f"not a valid {family} address ({exc})") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_ip(raw: str, text: str) -> str:
    return str(_address(raw, text))


def parse_cidr(raw: str, text: str) -> str:
    address_text, slash, prefix_text = text.partition("/")
    if not slash:
        raise TargetParseError(raw, "a CIDR range needs a prefix length: 10.0.0.0/8")
    if "%" in address_text or address_text.startswith("["):
        raise TargetParseError(
            raw, "write a CIDR range as address/prefix, without brackets or zone"
        )
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = (
            ipaddress.IPv6Address(address_text)
            if ":" in address_text
            else ipaddress.IPv4Address(address_text)
        )
    except ipaddress.AddressValueError as exc:
        family = "IPv6" if ":" in address_text else "IPv4"
        raise TargetParseError(raw, f"not a valid {family} network address ({exc})") from None
    bits = address.max_prefixlen
    if not (prefix_text.isascii() and prefix_text.isdigit()) or int(prefix_text) > bits:
        raise TargetParseError(raw, f"prefix length must be 0{_DASH}{bits}")
    length = int(prefix_text)
    network = ipaddress.ip_network((address, length), strict=False)
    if network.network_address != address:
        raise TargetParseError(raw, f"host bits are set; the network is {network}")
    if isinstance(network, ipaddress.IPv6Network) and length >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return str(ipaddress.IPv4Network((mapped, length - 96)))
    return str(network)


def _host_and_port(raw: str, netloc: str, what: str) -> tuple[str, int | None]:
    """`host[:port]` of a URL: the host normalized (IPv6 in brackets), the port checked."""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end == -1:
            raise TargetParseError(raw, f"unclosed '[' in the {what} host")
        host_text, rest = netloc[1:end], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise TargetParseError(raw, f"unexpected characters after the {what} host")
        port_text = rest[1:] if rest else ""
        address = _address(raw, host_text)
        host = f"[{address}]" if address.version == 6 else str(address)
    else:
        host_text, colon, port_text = netloc.partition(":")
        if colon and not port_text:
            raise TargetParseError(raw, "empty port after ':'")
        if not host_text:
            raise TargetParseError(raw, f"missing {what} host")
        if host_text.replace(".", "").isdigit():
            host = parse_ip(raw, host_text)
        else:
            host = parse_hostname(raw, host_text)
    port: int | None = None
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise TargetParseError(raw, f"port must be 1{_DASH}65535")
        port = int(port_text)
    return host, port


def _encode_url_part(text: str, safe: str) -> str:
    return quote(_STRAY_PERCENT_RE.sub("%25", text), safe=safe)


def parse_url(raw: str, text: str) -> str:
    match = _SCHEME_RE.match(text)
    if not match:
        raise TargetParseError(raw, "a URL needs a scheme: http:// or https://")
    scheme = match.group(1).lower()
    if scheme not in ("http", "https"):
        raise TargetParseError(raw, f"only http and https URLs are allowed, not `{scheme}:`")
    if not text[match.end() :].startswith("//"):
        raise TargetParseError(raw, f"missing '//' after '{scheme}:'")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise TargetParseError(raw, f"not a valid URL ({exc})") from None
    if "@" in parts.netloc:
        raise TargetParseError(
            raw, "credentials (user@ or user:password@) are not allowed in a target URL"
        )
    if "\\" in parts.netloc:
        raise TargetParseError(raw, "character '\\' is not allowed in a URL host")
    host, port = _host_and_port(raw, parts.netloc, "URL")
    if port == (443 if scheme == "https" else 80):
        port = None
    path = _encode_url_part(parts.path or "/", _URL_SAFE_PATH)
    query = _encode_url_part(parts.query, _URL_SAFE_QUERY)
    return f"{scheme}://{host}{f':{port}' if port else ''}{path}{f'?{query}' if query else ''}"


def split_image(raw: str, text: str) -> ImageRef:
    """Parse and normalize an image reference the way docker does."""
    is_prefix = text.endswith("/*")
    if is_prefix:
        text = text[:-2]
    elif "*" in text:
        raise TargetParseError(raw, "a repository prefix ends with '/*' (registry/org/*)")
    name, at, digest = text.partition("@")
    if at:
        if is_prefix:
            raise TargetParseError(raw, "a prefix target has no digest")
        match = _DIGEST_RE.fullmatch(digest)
        if not match:
            raise TargetParseError(raw, "digest must be algorithm:hex, e.g. sha256:<64 hex digits>")
        algorithm, encoded = match.groups()
        if algorithm == "sha256" and not re.fullmatch(r"[0-9a-fA-F]{64}", encoded):
            raise TargetParseError(raw, "a sha256 digest has exactly 64 hexadecimal digits")
        digest = f"{algorithm}:{encoded.lower()}"
    tag = ""
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
        if is_prefix:
            raise TargetParseError(raw, "a prefix target has no tag")
        if not _IMAGE_TAG_RE.fullmatch(tag):
            raise TargetParseError(
                raw,
                "tag must be letters, digits, '_', '.' or '-' (at most 128, not starting with '.' or '-')",
            )
    if not name:
        raise TargetParseError(raw, "missing image name")
    first, slash, rest = name.partition("/")
    looks_like_registry = "." in first or ":" in first or first == "localhost"
    if slash and (looks_like_registry or first != first.lower()):
        domain_text, path = first, rest
    elif is_prefix and looks_like_registry:
        domain_text, path = first, ""  # ghcr.io/*: the whole registry
    else:
        domain_text, path = "", name
    if domain_text:
        domain, port = _registry(raw, domain_text)
        domain = domain + (f":{port}" if port else "")
    else:
        domain = "docker.io"
    if domain == "index.docker.io":
        domain = "docker.io"
    if not path and not is_prefix:
        raise TargetParseError(raw, "missing repository path after the registry")
    components = path.split("/") if path else []
    for component in components:
        if component != component.lower() and _IMAGE_PATH_COMPONENT_RE.fullmatch(component.lower()):
            raise TargetParseError(raw, "repository names must be lower-case")
        if not _IMAGE_PATH_COMPONENT_RE.fullmatch(component):
            bad = next(
                (c for c in component if not (c.isascii() and (c.isalnum() or c in "._-"))), None
            )
            reason = (
                f"character {_char_name(bad)} is not allowed"
                if bad
                else f"`{component}` is not a valid path component"
            )
            raise TargetParseError(raw, f"{reason} in an image name")
    if domain == "docker.io" and len(components) == 1 and not is_prefix:
        components = ["library", *components]
    full = "/".join([domain, *components])
    if len(full) > 255:
        raise TargetParseError(raw, "an image name has at most 255 characters")
    return ImageRef(name=full, tag=tag, digest=digest, is_prefix=is_prefix)


def _registry(raw: str, text: str) -> tuple[str, int | None]:
    host_text, colon, port_text = text.rpartition(":") if not text.endswith("]") else (text, "", "")
    if not colon:
        host_text, port_text = text, ""
    if host_text.startswith("[") and host_text.endswith("]"):
        host = f"[{_address(raw, host_text)}]"
    elif _REGISTRY_HOST_RE.fullmatch(host_text):
        host = host_text.lower()
    else:
        raise TargetParseError(raw, f"`{host_text}` is not a valid registry host")
    port = None
    if colon:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise TargetParseError(raw, f"registry port must be 1{_DASH}65535")
        port = int(port_text)
    return host, port


def parse_image(raw: str, text: str) -> str:
    return str(split_image(raw, text))


def _repo_path(raw: str, path: str) -> str:
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    if not path:
        raise TargetParseError(raw, "missing repository path (org/repo)")
    for segment in path.split("/"):
        if not segment:
            raise TargetParseError(raw, "empty segment in the repository path")
        if segment in (".", ".."):
            raise TargetParseError(raw, "'.' and '..' are not allowed in a repository path")
        if segment.startswith("-"):
            raise TargetParseError(raw, "a repository path segment cannot start with '-'")
        if not _REPO_SEGMENT_RE.fullmatch(segment):
            bad = next(c for c in segment if not (c.isascii() and (c.isalnum() or c in "._~+-")))
            raise TargetParseError(
                raw, f"character {_char_name(bad)} is not allowed in a repository path"
            )
    return path


def split_repo(raw: str, text: str) -> RepoRef:
    """Parse a git URL: https/http, ssh:// (git+ssh://), git://, or scp-like user@host:path."""
    scheme_match = _SCHEME_RE.match(text)
    if "://" not in text:
        scp = _SCP_RE.fullmatch(text)
        if not scp:
            raise TargetParseError(
                raw,
                "a repository is an https URL (https://host/org/repo.git) or an ssh address (git@host:org/repo.git)",
            )
        user, host_text, path = scp.groups()
        host, _ = _host_and_port(raw, host_text, "repository")
        return RepoRef("ssh", user, host, None, _repo_path(raw, path))
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    transport = {
        "https": "https",
        "http": "http",
        "ssh": "ssh",
        "git+ssh": "ssh",
        "git": "git",
    }.get(scheme)
    if transport is None:
        raise TargetParseError(raw, f"unsupported repository scheme `{scheme}:` (use https or ssh)")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise TargetParseError(raw, f"not a valid URL ({exc})") from None
    if parts.query or parts.fragment:
        raise TargetParseError(raw, "a repository URL has no query or fragment")
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user = ""
    if at:
        if transport != "ssh":
            raise TargetParseError(raw, "credentials are not allowed in an https repository URL")
        if ":" in userinfo or not _REPO_USER_RE.fullmatch(userinfo):
            raise TargetParseError(
                raw, "an ssh user is letters, digits, '.', '_' or '-' (no password)"
            )
        user = userinfo
    host, port = _host_and_port(raw, hostport, "repository")
    if port == {"https": 443, "http": 80, "ssh": 22, "git": 9418}[transport]:
        port = None
    return RepoRef(transport, user, host, port, _repo_path(raw, parts.path))


def parse_repo(raw: str, text: str) -> str:
    return str(split_repo(raw, text))


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


def repo_scope_path(value: str) -> str:
    """host/org/repo of a normalized repo value: how repositories are compared."""
    return split_repo(value, value).scope_path
