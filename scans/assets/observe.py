"""What the inventory reads from items: the contract between every tool or report parser and
the asset inventory (docs/inventory.md is the same contract in prose).

`observe(items)` turns a step's items (and the items its findings are about) into
`Observation`s, one per asset, with the assets they imply: a URL implies its service and host,
a service its host, an address found by resolving a name implies the name and the link between
them, a certificate or a technology reported on a service or URL implies that asset and its link.
Only the attrs listed in READS are kept, cleaned to their documented types; anything else a tool
puts in `Item.attrs` flows on to later steps but is not stored in the inventory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scans.models import AssetKind, AssetLink
from targets.items import Item, ItemError, host_key, image_ref, repo_path, url_key

Key = tuple[str, str]  # (asset kind, value)

MAX_VALUE = 2000
MAX_TEXT = 500
MAX_LIST = 50
_SERVICE_RE = re.compile(r"^(\[[^\]]+\]|[^:/\[\]]+):([0-9]{1,5})/([a-z]+)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The origin of a canonical URL as tools write it ("http://host:port" before the path): URLs
# that share it share their service and host.
_ORIGIN_RE = re.compile(r"https?://[a-z0-9._-]+(?::[0-9]{1,5})?(?=[/?#]|$)")

# Attrs the inventory keeps, per asset kind, and their types ("text", "int", "bool", "texts",
# "technologies", "certificate"). docs/inventory.md documents each.
READS: dict[str, dict[str, str]] = {
    AssetKind.DOMAIN: {"addresses": "texts", "registrar": "text"},
    AssetKind.IP: {"reverse_dns": "texts", "asn": "text", "org": "text", "country": "text"},
    AssetKind.SERVICE: {
        "service": "text", "product": "text", "version": "text", "extrainfo": "text",
        "banner": "text", "transport": "text", "tls": "bool", "cpe": "texts", "address": "text",
        "tls_protocol": "text", "tls_cipher": "text", "waf": "text",
    },
    AssetKind.URL: {
        "status": "int", "title": "text", "content_type": "text", "content_length": "int",
        "server": "text", "redirect_to": "text", "favicon_hash": "text", "tls": "bool",
        "http_version": "text", "waf": "text", "words": "int", "lines": "int",
    },
    AssetKind.CERTIFICATE: {
        "subject": "text", "issuer": "text", "common_name": "text", "dns_names": "texts",
        "ip_addresses": "texts", "not_before": "text", "not_after": "text", "serial": "text",
        "key_type": "text", "key_bits": "int", "signature_algorithm": "text",
        "is_self_signed": "bool",
    },
    AssetKind.TECHNOLOGY: {"name": "text", "category": "text"},
    AssetKind.SCREENSHOT: {"artifact": "int", "path": "text", "sha256": "text", "url": "text"},
    AssetKind.IMAGE: {"digest": "text", "os": "text", "size": "int"},
    AssetKind.REPO: {"commit": "text", "branch": "text"},
}  # fmt: skip

# The attrs whose change is an event in the asset's history ("version changed", "title
# changed", "certificate renewed"). Others (content length, banners with clocks in them) are
# kept up to date silently.
TRACKED: dict[str, tuple[str, ...]] = {
    AssetKind.DOMAIN: ("addresses",),
    AssetKind.IP: ("reverse_dns", "asn", "org"),
    AssetKind.SERVICE: ("service", "product", "version", "tls", "certificate"),
    AssetKind.URL: (
        "status", "title", "server", "content_type", "redirect_to", "technologies",
        "favicon_hash",
    ),
    AssetKind.IMAGE: ("digest",),
}  # fmt: skip

_RECORD_LINKS = {
    "A": AssetLink.Relation.RESOLVES_TO,
    "AAAA": AssetLink.Relation.RESOLVES_TO,
    "CNAME": AssetLink.Relation.ALIAS_OF,
    "MX": AssetLink.Relation.MAIL_HOST,
    "NS": AssetLink.Relation.NAME_SERVER,
}


@dataclass(slots=True)
class Observation:
    """One asset as a batch of items describes it (several items of one asset merge)."""

    kind: str
    value: str
    attrs: dict[str, Any] = field(default_factory=dict)
    port: int | None = None
    status_code: int | None = None
    parent: Key | None = None
    certificate: Key | None = None
    explicit: bool = False  # an item named it (else only implied by another)
    key: Key = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.kind, self.value)

    def tracked(self) -> dict[str, Any]:
        return {k: self.attrs[k] for k in TRACKED.get(self.kind, ()) if k in self.attrs}


@dataclass
class Observed:
    """Everything one batch of items says about the inventory."""

    assets: dict[Key, Observation] = field(default_factory=dict)
    links: set[tuple[Key, str, Key]] = field(default_factory=set)
    # The asset each item value stands for (findings name their item by value).
    item_assets: dict[str, Key] = field(default_factory=dict)
    skipped: int = 0  # items that are no asset (a malformed value)
    # Parsed once per batch: hosts by their text, a URL origin's service (50,000 URLs of a scan
    # sit on a few thousand origins).
    hosts: dict[str, Key] = field(default_factory=dict)
    origins: dict[tuple[str, str, int], Key] = field(default_factory=dict)
    origins_parsed: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    def add(self, obs: Observation) -> Observation:
        known = self.assets.get(obs.key)
        if known is None:
            self.assets[obs.key] = obs
            return obs
        # Later, explicit reports win over what was implied; empty values never erase.
        for name, value in obs.attrs.items():
            if obs.explicit or name not in known.attrs:
                known.attrs[name] = value
        known.port = known.port if obs.port is None else obs.port
        known.status_code = known.status_code if obs.status_code is None else obs.status_code
        known.parent = obs.parent or known.parent
        known.certificate = obs.certificate or known.certificate
        known.explicit = known.explicit or obs.explicit
        return known

    def link(self, source: Key, relation: str, target: Key) -> None:
        if source != target:
            self.links.add((source, relation, target))

    def by_layer(self) -> Iterator[list[Observation]]:
        """The observations in write order: an asset's parent and certificate before it."""
        order = (
            {AssetKind.DOMAIN, AssetKind.IP, AssetKind.CERTIFICATE, AssetKind.TECHNOLOGY,
             AssetKind.IMAGE, AssetKind.REPO},
            {AssetKind.SERVICE},
            {AssetKind.URL},
            {AssetKind.SCREENSHOT},
        )  # fmt: skip
        for kinds in order:
            layer = [obs for obs in self.assets.values() if obs.kind in kinds]
            if layer:
                yield sorted(layer, key=lambda o: o.key)


# --- Cleaning attrs ----------------------------------------------------------------------------


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if type(value) is str:  # what tools nearly always report: no conversion to try
        text = (value.replace("\x00", "") if "\x00" in value else value).strip()
        return text[:limit] if text else None
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).replace("\x00", "").strip()
    return text[:limit] if text else None


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value if 0 <= value < 2**31 else None
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**31 else None


def _texts(value: Any) -> list[str] | None:
    values = value if isinstance(value, list | tuple) else [value]
    cleaned = sorted({t for v in values[:MAX_LIST] if (t := _text(v)) is not None})
    return cleaned or None


def technologies(value: Any) -> list[dict[str, str]]:
    """`technologies` as a list of {name, version, category}; plain strings are names, and
    "nginx/1.25" or "PHP:8.1" split into name and version."""
    found: dict[str, dict[str, str]] = {}
    for raw in value if isinstance(value, list | tuple) else [value]:
        if isinstance(raw, dict):
            name = _text(raw.get("name"), 100)
            version = _text(raw.get("version"), 100) or ""
            category = _text(raw.get("category") or raw.get("categories"), 100) or ""
        else:
            text = _text(raw, 200) or ""
            name, _, version = text.replace(":", "/", 1).partition("/")
            name, version, category = name.strip(), version.strip(), ""
        if name:
            entry = {"name": name}
            if version:
                entry["version"] = version
            if category:
                entry["category"] = category
            found.setdefault(name.lower(), entry)
        if len(found) >= MAX_LIST:
            break
    return sorted(found.values(), key=lambda t: t["name"].lower())


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else (bool(value) if value is not None else None)


_CLEANERS: dict[str, Any] = {"text": _text, "int": _int, "bool": _bool}
# Per kind, each kept attr's cleaning function (looked up once, not per attr of every item).
_CLEANING: dict[str, dict[str, Any]] = {
    kind: {name: _CLEANERS.get(type_, _texts) for name, type_ in reads.items()}
    for kind, reads in READS.items()
}


def _cleaned(kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    if not attrs:
        return kept
    cleaning = _CLEANING.get(kind, {})
    for name, raw in attrs.items():
        clean = cleaning.get(name)
        if clean is None:
            continue
        # What tools nearly always report, a str for a text and an int for an int, is cleaned
        # here as _text and _int would (a call per attr of 50,000 URLs cost a third of `observe`).
        if clean is _text and type(raw) is str:
            text = (raw.replace("\x00", "") if "\x00" in raw else raw).strip()
            if text:
                kept[name] = text[:MAX_TEXT]
        elif clean is _int and type(raw) is int:
            if 0 <= raw < 2**31:
                kept[name] = raw
        elif (value := clean(raw)) is not None:
            kept[name] = value
    return kept


# --- Keys ----------------------------------------------------------------------------------------


def host_asset_key(host: str) -> Key:
    """("ip", address) or ("domain", name) for a host value; ItemError when it is neither."""
    key = host_key(host.strip())
    return (AssetKind.IP if key.version else AssetKind.DOMAIN, key.name)


def _service_parts(value: str) -> tuple[str, int, str]:
    match = _SERVICE_RE.match(value)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ItemError(f"`{value[:100]}` is not a service")
    return match.group(1).strip("[]"), int(match.group(2)), match.group(3)


def service_value(host: str, port: int, proto: str = "tcp") -> str:
    return f"[{host}]:{port}/{proto}" if ":" in host else f"{host}:{port}/{proto}"


def item_key(item: Item) -> Key:
    """The asset an item stands for; ItemError for a value that is none."""
    if item.kind == "host":
        return host_asset_key(item.value)
    if item.kind == "service":
        host, port, proto = _service_parts(item.value)
        return (AssetKind.SERVICE, service_value(host_asset_key(host)[1], port, proto))
    if item.kind == "url":
        url_key(item.value)  # refuses what is no http(s) URL
        return (AssetKind.URL, item.value)
    if item.kind == "image":
        image_ref(item.value)
        return (AssetKind.IMAGE, item.value)
    if item.kind == "repo":
        repo_path(item.value)
        return (AssetKind.REPO, item.value)
    raise ItemError(f"unknown item kind {item.kind!r}")


def item_for_value(value: str) -> Item | None:
    """An Item for a finding's `item` value, its kind told by the value's shape (a finding
    names what it is about by value only)."""
    value = value.strip()
    if not value or len(value) > MAX_VALUE:
        return None
    if value.startswith(("http://", "https://")):
        return Item("repo" if value.endswith(".git") else "url", value)
    if _SERVICE_RE.match(value):
        return Item("service", value)
    for kind in ("host", "image"):
        try:
            item_key(Item(kind, value))
        except ItemError:
            continue
        # "nginx" parses both as a host name and an image; a bare name with ":" or "/" is no host.
        return Item(kind, value)
    return None


# --- Observing ------------------------------------------------------------------------------------


def observe(items: Iterable[Item]) -> Observed:
    """The inventory's reading of a batch of items (see the module docstring)."""
    seen = Observed()
    for item in items:
        if len(item.value) > MAX_VALUE:
            seen.skipped += 1
            continue
        try:
            key = _observe_item(seen, item)
        except ItemError:
            seen.skipped += 1
            continue
        seen.item_assets.setdefault(item.value, key)
    return seen


def _observe_item(seen: Observed, item: Item) -> Key:
    attrs = item.attrs or {}
    if item.kind == "host":
        return _observe_host(seen, item.value, attrs, explicit=True)
    if item.kind == "service":
        host, port, proto = _service_parts(item.value)
        return _observe_service(seen, host, port, proto, attrs, explicit=True)
    if item.kind == "url":
        return _observe_url(seen, item.value, attrs)
    kind, value = item_key(item)
    obs = seen.add(Observation(kind, value, _cleaned(kind, attrs), explicit=True))
    return obs.key


def _observe_host(seen: Observed, value: str, attrs: dict[str, Any], *, explicit: bool) -> Key:
    if not attrs and not explicit and value in seen.hosts:
        return seen.hosts[value]  # an implied host already observed
    kind, name = host_asset_key(value)
    seen.hosts[value] = (kind, name)
    obs = seen.add(Observation(kind, name, _cleaned(kind, attrs), explicit=explicit))
    source, record = attrs.get("resolved_from"), str(attrs.get("record") or "").upper()
    if isinstance(source, str) and record in _RECORD_LINKS:
        try:
            origin = _observe_host(seen, source, {}, explicit=False)
        except ItemError:
            return obs.key
        if origin[0] == AssetKind.DOMAIN:
            seen.link(origin, _RECORD_LINKS[record], obs.key)
            if record in ("A", "AAAA"):
                known = seen.assets[origin].attrs.setdefault("addresses", [])
                if name not in known:
                    known.append(name)
                    known.sort()
    for address in _texts(attrs.get("addresses")) or []:
        if kind == AssetKind.DOMAIN:
            try:
                target = _observe_host(seen, address, {}, explicit=False)
            except ItemError:
                continue
            seen.link(obs.key, AssetLink.Relation.RESOLVES_TO, target)
    return obs.key


def _observe_service(
    seen: Observed, host: str, port: int, proto: str, attrs: dict[str, Any], *, explicit: bool
) -> Key:
    host_asset = _observe_host(seen, host, {}, explicit=False)
    cleaned = _cleaned(AssetKind.SERVICE, attrs)
    cleaned.setdefault("transport", proto)
    tls = attrs.get("tls")
    if isinstance(tls, dict):  # tls_inspect's handshake record
        cleaned["tls"] = True
        for name, source in (("tls_protocol", "protocol"), ("tls_cipher", "cipher")):
            if _text(tls.get(source)):
                cleaned[name] = _text(tls.get(source))
    if attrs.get("tunnel") == "ssl":
        cleaned["tls"] = True
    certificate = attrs.get("certificate") or (
        tls.get("certificate") if isinstance(tls, dict) else None
    )
    obs = Observation(
        AssetKind.SERVICE,
        service_value(host_asset[1], port, proto),
        cleaned,
        port=port,
        parent=host_asset,
        explicit=explicit,
    )
    cert = _observe_certificate(seen, certificate)
    if cert is not None:
        obs.certificate = cert
        obs.attrs["certificate"] = cert[1]
        obs.attrs["tls"] = True
    address = cleaned.get("address")
    if address and host_asset[0] == AssetKind.DOMAIN:
        try:
            ip = _observe_host(seen, address, {}, explicit=False)
            seen.link(host_asset, AssetLink.Relation.RESOLVES_TO, ip)
        except ItemError:
            pass
    obs = seen.add(obs)
    _observe_technologies(seen, obs.key, attrs.get("technologies"), obs)
    return obs.key


def _url_origin(seen: Observed, value: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL. A URL of an origin already seen in the batch is only
    matched against that origin's prefix; the first of each origin is fully normalized."""
    match = _ORIGIN_RE.match(value) if value.isprintable() and " " not in value else None
    if match is not None and match.group(0) in seen.origins_parsed:
        return seen.origins_parsed[match.group(0)]
    key = url_key(value)
    scheme = key.origin.partition("://")[0]
    port_text = key.origin.rpartition(":")[2]
    port = (
        int(port_text) if port_text.isdigit() and "]" not in port_text else _DEFAULT_PORTS[scheme]
    )
    parsed = (scheme, key.host.name, port)
    if match is not None:
        seen.origins_parsed[match.group(0)] = parsed
    return parsed


def _observe_url(seen: Observed, value: str, attrs: dict[str, Any]) -> Key:
    scheme, host, port = _url_origin(seen, value)
    origin = (scheme, host, port)
    service = seen.origins.get(origin)
    if service is None:
        implied = {"tls": True} if scheme == "https" else {}
        service = _observe_service(seen, host, port, "tcp", implied, explicit=False)
        seen.origins[origin] = service
    cleaned = _cleaned(AssetKind.URL, attrs)
    cleaned.setdefault("tls", scheme == "https")
    obs = Observation(
        AssetKind.URL,
        value,
        cleaned,
        port=port,
        status_code=cleaned.get("status") if 100 <= cleaned.get("status", 0) <= 999 else None,
        parent=service,
        explicit=True,
    )
    # Most URLs carry no certificate, technologies or screenshot: no call to find that out.
    cert = _observe_certificate(seen, attrs["certificate"]) if "certificate" in attrs else None
    if cert is not None:
        seen.assets[service].certificate = cert
        seen.assets[service].attrs["certificate"] = cert[1]
    obs = seen.add(obs)
    if "technologies" in attrs:
        _observe_technologies(seen, obs.key, attrs["technologies"], obs)
    screenshot = attrs.get("screenshot")
    if isinstance(screenshot, dict):
        shot = _cleaned(AssetKind.SCREENSHOT, screenshot)
        shot["url"] = value
        seen.add(Observation(AssetKind.SCREENSHOT, value, shot, parent=obs.key, explicit=True))
    return obs.key


def _observe_certificate(seen: Observed, certificate: Any) -> Key | None:
    if not isinstance(certificate, dict):
        return None
    sha = _text(certificate.get("sha256"), 64)
    if not sha or not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
        return None
    obs = seen.add(
        Observation(
            AssetKind.CERTIFICATE,
            sha.lower(),
            _cleaned(AssetKind.CERTIFICATE, certificate),
            explicit=True,
        )
    )
    return obs.key


def _observe_technologies(seen: Observed, source: Key, value: Any, owner: Observation) -> None:
    if value is None:
        return
    found = technologies(value)
    owner.attrs["technologies"] = found
    for tech in found:
        attrs = {"name": tech["name"]}
        if tech.get("category"):
            attrs["category"] = tech["category"]
        target = seen.add(
            Observation(AssetKind.TECHNOLOGY, tech["name"].lower(), attrs, explicit=True)
        )
        seen.link(source, AssetLink.Relation.RUNS, target.key)
