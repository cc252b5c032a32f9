"""Container image references (docker's grammar and normalization) and git repository URLs."""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urlsplit

from targets.parsing.base import _DASH, _SCHEME_RE, TargetParseError, _char_name
from targets.parsing.hosts import _address, _host_and_port

# Image references (github.com/distribution/reference grammar).
_IMAGE_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_IMAGE_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_RE = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([A-Za-z0-9=_-]{32,})")
_REGISTRY_HOST_RE = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
)
_REPO_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~+-]+")
_REPO_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_SCP_RE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9._-]*)@([^/:@\[\]]+|\[[0-9A-Fa-f:.]+\]):(.+)")


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


def repo_scope_path(value: str) -> str:
    """host/org/repo of a normalized repo value: how repositories are compared."""
    return split_repo(value, value).scope_path
