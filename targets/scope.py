"""Is this item in scope for this team? Asked before every tool step, for every item.

    matcher = ScopeMatcher.for_team(team_id)          # one query, compiled once per call site
    matcher.check(Item("host", "api.example.com"))    # -> Verdict(in_scope, reason, target_id)

Rules (docs: README "Targets and scope"):
- an exclusion beats any inclusion; exclusions never expire (an expiring exclusion would
  silently widen scope);
- a domain covers itself; `*.example.com` covers every subdomain at any depth, not the apex;
- an IP is covered by an equal IP or a containing CIDR (IPv4-mapped IPv6 counts as IPv4);
  host names are matched by name only, never by what they resolve to;
- a service is covered when its host is;
- a URL is covered when its host is, or by a URL target on the same origin whose path is the
  URL's path or an ancestor of it (a URL target with a query covers exactly that URL);
- an image by an equal reference (tag or digest), by an untagged repository target
  (`ghcr.io/org/app` covers every tag), or by a prefix target (`ghcr.io/org/*`);
- a repo by its normalized host/path, whatever the transport (https or ssh);
- an expired authorization covers nothing; targets of other teams are never loaded.

Each lookup is a dict/set probe: exact values directly, wildcards by walking the host's labels
(O(labels)), CIDRs by one probe per prefix length present (at most 33 or 129, in practice a
handful), URL targets per path ancestor, image prefixes per path component. No scan over targets.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from scans.runtime import Item
from targets.items import (
    HostKey,
    ItemError,
    UrlKey,
    host_key,
    image_ref,
    repo_path,
    service_host,
    url_key,
    url_path_prefixes,
)
from targets.parsing import _BAD_CHAR_RE, MAX_VALUE_LENGTH, ImageRef, shown, split_image, split_repo

# Item kinds, plus the target kinds that name a host.
_KIND_ALIASES = {"domain": "host", "ip": "host"}


@dataclass(frozen=True, slots=True)
class Verdict:
    in_scope: bool
    reason: str
    target_id: int | None


@dataclass(frozen=True, slots=True)
class TargetRow:
    """What the matcher needs of a Target (a row of `values_list`, or built in tests)."""

    id: int
    kind: str
    value: str
    excluded: bool = False
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Rule:
    target_id: int
    value: str
    expires_ts: float | None


@dataclass
class _RuleSet:
    """Inclusions or exclusions, compiled into lookup tables."""

    hosts: dict[str, list[_Rule]] = field(default_factory=dict)
    wildcards: dict[str, list[_Rule]] = field(default_factory=dict)  # apex -> rules
    # version -> prefix length -> (address >> host bits) -> rules; lengths longest first.
    networks: dict[int, dict[int, dict[int, list[_Rule]]]] = field(
        default_factory=lambda: {4: {}, 6: {}}
    )
    lengths: dict[int, list[int]] = field(default_factory=lambda: {4: [], 6: []})
    urls: dict[tuple[str, str], list[_Rule]] = field(default_factory=dict)  # (origin, path)
    urls_exact: dict[tuple[str, str, str], list[_Rule]] = field(default_factory=dict)  # + query
    images: dict[str, list[_Rule]] = field(default_factory=dict)  # name:tag / name@digest
    image_repos: dict[str, list[_Rule]] = field(default_factory=dict)  # untagged name
    image_prefixes: dict[str, list[_Rule]] = field(default_factory=dict)  # name prefix
    repos: dict[str, list[_Rule]] = field(default_factory=dict)  # host/org/repo
    size: int = 0

    def add(self, row: TargetRow, rule: _Rule) -> None:
        kind, value = row.kind, row.value
        self.size += 1
        if kind == "domain":
            if value.startswith("*."):
                self.wildcards.setdefault(value[2:], []).append(rule)
            else:
                self.hosts.setdefault(value, []).append(rule)
        elif kind in ("ip", "cidr"):
            network = ipaddress.ip_network(value)
            bits = network.max_prefixlen
            table = self.networks[network.version].setdefault(network.prefixlen, {})
            table.setdefault(int(network.network_address) >> (bits - network.prefixlen), []).append(
                rule
            )
        elif kind == "url":
            key = url_key(value)
            if key.query:
                self.urls_exact.setdefault((key.origin, key.path, key.query), []).append(rule)
            else:
                self.urls.setdefault((key.origin, key.path), []).append(rule)
        elif kind == "image":
            ref = split_image(value, value)
            if ref.is_prefix:
                self.image_prefixes.setdefault(ref.name, []).append(rule)
            elif ref.digest:
                self.images.setdefault(f"{ref.name}@{ref.digest}", []).append(rule)
            elif ref.tag:
                self.images.setdefault(f"{ref.name}:{ref.tag}", []).append(rule)
            else:
                self.image_repos.setdefault(ref.name, []).append(rule)
        elif kind == "repo":
            self.repos.setdefault(split_repo(value, value).scope_path, []).append(rule)
        else:
            self.size -= 1

    def finish(self) -> None:
        for version, tables in self.networks.items():
            self.lengths[version] = sorted(tables, reverse=True)  # most specific first

    # --- lookups: the first live rule, or None ---

    def host(self, key: HostKey, now: float) -> _Rule | None:
        if key.version:
            bits = 32 if key.version == 4 else 128
            tables = self.networks[key.version]
            number = key.number
            for length in self.lengths[key.version]:
                rule = _live(tables[length].get(number >> (bits - length)), now)
                if rule:
                    return rule
            return None
        name = key.name
        rule = _live(self.hosts.get(name), now)
        if rule:
            return rule
        if self.wildcards:
            index = name.find(".")
            while index != -1:
                rule = _live(self.wildcards.get(name[index + 1 :]), now)
                if rule:
                    return rule
                index = name.find(".", index + 1)
        return None

    def url(self, key: UrlKey, now: float) -> _Rule | None:
        if self.urls_exact:
            rule = _live(self.urls_exact.get((key.origin, key.path, key.query)), now)
            if rule:
                return rule
        if self.urls:
            for prefix in url_path_prefixes(key.path):
                rule = _live(self.urls.get((key.origin, prefix)), now)
                if rule:
                    return rule
        return None

    def image(self, ref: ImageRef, now: float) -> _Rule | None:
        if ref.digest:
            rule = _live(self.images.get(f"{ref.name}@{ref.digest}"), now)
            if rule:
                return rule
        if ref.tag or not ref.digest:
            rule = _live(self.images.get(f"{ref.name}:{ref.tag or 'latest'}"), now)
            if rule:
                return rule
        rule = _live(self.image_repos.get(ref.name), now)
        if rule:
            return rule
        if self.image_prefixes:
            index = ref.name.find("/")
            while index != -1:
                rule = _live(self.image_prefixes.get(ref.name[:index]), now)
                if rule:
                    return rule
                index = ref.name.find("/", index + 1)
        return None

    def repo(self, path: str, now: float) -> _Rule | None:
        return _live(self.repos.get(path), now)


def _live(rules: list[_Rule] | None, now: float) -> _Rule | None:
    if rules:
        for rule in rules:
            if rule.expires_ts is None or rule.expires_ts > now:
                return rule
    return None


class ScopeMatcher:
    """A team's scope, compiled. Build it once per call site; `check` is O(1)/O(labels)."""

    def __init__(self, rows: Iterable[TargetRow], *, at: datetime | None = None) -> None:
        self._fixed_now = at.timestamp() if at is not None else None
        self.included = _RuleSet()
        self.excluded = _RuleSet()
        for row in rows:
            if row.excluded:
                # Exclusions never expire: expiry only ever narrows scope.
                self.excluded.add(row, _Rule(row.id, row.value, None))
            else:
                expires = row.expires_at.timestamp() if row.expires_at is not None else None
                if (
                    expires is not None
                    and self._fixed_now is not None
                    and expires <= self._fixed_now
                ):
                    continue
                self.included.add(row, _Rule(row.id, row.value, expires))
        self.included.finish()
        self.excluded.finish()

    @classmethod
    def for_team(cls, team_id: int, *, at: datetime | None = None) -> ScopeMatcher:
        """The team's exclusions and its authorizations not expired at `at` (default: now;
        with `at=None` an authorization that expires while the matcher lives stops covering)."""
        from django.db.models import Q
        from django.utils import timezone

        from targets.models import Target

        cutoff = at or timezone.now()
        rows = Target.objects.filter(team_id=team_id).filter(
            Q(excluded=True) | Q(expires_at__isnull=True) | Q(expires_at__gt=cutoff)
        )
        return cls(
            (
                TargetRow(*row)
                for row in rows.values_list("pk", "kind", "value", "excluded", "expires_at")
            ),
            at=at,
        )

    def __len__(self) -> int:
        return self.included.size + self.excluded.size

    def _now(self) -> float:
        return self._fixed_now if self._fixed_now is not None else time.time()

    def check_value(self, kind: str, value: str) -> Verdict:
        """Check a raw string of an item kind (host, service, url, image, repo; domain and ip
        are accepted for host). Parse errors are out of scope, with the error as the reason."""
        return self.check(Item(_KIND_ALIASES.get(kind, kind), value))

    def check(self, item: Item) -> Verdict:
        kind, value = item.kind, item.value
        if not isinstance(value, str) or not value or len(value) > MAX_VALUE_LENGTH:
            return Verdict(False, f"`{shown(value)}` is not a valid {kind} value", None)
        if value[0] == "-" or _BAD_CHAR_RE.search(value):
            return Verdict(
                False,
                f"`{shown(value)}` contains whitespace, a control character or a leading '-'",
                None,
            )
        now = self._now()
        try:
            if kind == "host":
                return self._host_verdict("host", value, host_key(value), now)
            if kind == "service":
                return self._host_verdict("service", value, service_host(value), now)
            if kind == "url":
                return self._url_verdict(value, url_key(value), now)
            if kind == "image":
                ref = image_ref(value)
                return self._verdict(
                    "image", str(ref), self.excluded.image(ref, now), self.included.image(ref, now)
                )
            if kind == "repo":
                path = repo_path(value)
                return self._verdict(
                    "repo", path, self.excluded.repo(path, now), self.included.repo(path, now)
                )
        except ItemError as exc:
            return Verdict(False, str(exc), None)
        return Verdict(False, f"unknown item kind `{shown(kind, 20)}`", None)

    def _excluding(self, key: HostKey, now: float) -> _Rule | None:
        rule = self.excluded.host(key, now)
        if rule is None and key.mapped_from is not None:
            rule = self.excluded.host(key.as_ipv6, now)  # type: ignore[arg-type]
        return rule

    def _host_verdict(self, kind: str, value: str, key: HostKey, now: float) -> Verdict:
        excluded = self._excluding(key, now)
        if excluded:
            return _excluded(excluded)
        rule = self.included.host(key, now)
        if rule:
            return _covered(rule)
        shown_value = key.name if kind == "host" else f"{value} (host {key.name})"
        return Verdict(False, f"no target covers {kind} {shown_value}", None)

    def _url_verdict(self, value: str, key: UrlKey, now: float) -> Verdict:
        excluded = self._excluding(key.host, now) or self.excluded.url(key, now)
        if excluded:
            return _excluded(excluded)
        rule = self.included.url(key, now) or self.included.host(key.host, now)
        if rule:
            return _covered(rule)
        return Verdict(False, f"no target covers url {shown(value, 200)}", None)

    @staticmethod
    def _verdict(
        kind: str, shown_value: str, excluded: _Rule | None, rule: _Rule | None
    ) -> Verdict:
        if excluded:
            return _excluded(excluded)
        if rule:
            return _covered(rule)
        return Verdict(False, f"no target covers {kind} {shown_value}", None)


def _covered(rule: _Rule) -> Verdict:
    return Verdict(True, f"covered by target #{rule.target_id} {rule.value}", rule.target_id)


def _excluded(rule: _Rule) -> Verdict:
    return Verdict(False, f"excluded by #{rule.target_id} {rule.value}", rule.target_id)


# --- the obvious O(n) answer -----------------------------------------------------------------


def covers(kind: str, value: str, item: Item, *, as_exclusion: bool = False) -> bool:
    """Whether one target (kind, normalized value) covers an item, written plainly with
    `ipaddress` and string comparisons. It is the reference the compiled matcher is tested
    and benchmarked against, and what `Target.covers` uses; expiry is not its concern.
    `as_exclusion`: IPv6 exclusions also apply to IPv4-mapped addresses."""
    try:
        return _covers(kind, value, item, as_exclusion)
    except ItemError:
        return False


def _covers(kind: str, value: str, item: Item, as_exclusion: bool) -> bool:
    if item.kind in ("host", "service"):
        host = host_key(item.value) if item.kind == "host" else service_host(item.value)
        return _covers_host(kind, value, host, as_exclusion)
    if item.kind == "url":
        key = url_key(item.value)
        if kind == "url":
            target = url_key(value)
            if target.origin != key.origin:
                return False
            if target.query:
                return (target.path, target.query) == (key.path, key.query)
            return (
                key.path == target.path
                or (target.path.endswith("/") and key.path.startswith(target.path))
                or key.path.startswith(target.path + "/")
            )
        return _covers_host(kind, value, key.host, as_exclusion)
    if item.kind == "image" and kind == "image":
        ref, target_ref = image_ref(item.value), split_image(value, value)
        if target_ref.is_prefix:
            return ref.name.startswith(target_ref.name + "/")
        if target_ref.name != ref.name:
            return False
        if target_ref.digest:
            return target_ref.digest == ref.digest
        if target_ref.tag:
            return target_ref.tag == (ref.tag or ("" if ref.digest else "latest"))
        return True
    if item.kind == "repo" and kind == "repo":
        return repo_path(item.value) == split_repo(value, value).scope_path
    return False


def _covers_host(kind: str, value: str, host: HostKey, as_exclusion: bool) -> bool:
    if kind == "domain" and not host.version:
        if value.startswith("*."):
            return host.name.endswith(value[1:])
        return host.name == value
    if kind in ("ip", "cidr") and host.version:
        network = ipaddress.ip_network(value)
        if as_exclusion and host.mapped_from is not None and network.version == 6:
            return ipaddress.IPv6Address(host.mapped_from) in network
        return ipaddress.ip_address(host.name) in network
    return False


def linear_scan(rows: Iterable[TargetRow], item: Item, *, at: datetime | None = None) -> bool:
    """In scope by looking at every target: an exclusion covering the item wins, else any live
    inclusion. O(targets) per item; the baseline of tests/bench/test_targets_bench.py."""
    now = at or datetime.now().astimezone()
    covered = False
    for row in rows:
        if row.excluded:
            if covers(row.kind, row.value, item, as_exclusion=True):
                return False
        elif covers(row.kind, row.value, item) and (row.expires_at is None or row.expires_at > now):
            covered = True
    return covered
