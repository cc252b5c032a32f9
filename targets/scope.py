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
(O(labels)), IPs and CIDRs by one binary search over flattened ranges (targets.ranges), URL
targets per path ancestor, image prefixes per path component. No scan over targets.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from targets.items import (
    HostKey,
    Item,
    ItemError,
    UrlKey,
    host_key,
    image_ref,
    repo_path,
    service_host,
    url_key,
    url_path_prefixes,
)
from targets.models import Target
from targets.parsing import MAX_VALUE_LENGTH, ImageRef, shown, split_image, split_repo
from targets.ranges import AddressRanges

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


class _Rule:
    """One compiled target, with the verdict it gives ready-made (checks allocate nothing)."""

    __slots__ = ("expires_ts", "target_id", "value", "verdict")

    def __init__(
        self, target_id: int, value: str, expires_ts: float | None, *, excluded: bool
    ) -> None:
        self.target_id = target_id
        self.value = value
        self.expires_ts = expires_ts
        reason = (
            f"excluded by #{target_id} {value}"
            if excluded
            else f"covered by target #{target_id} {value}"
        )
        self.verdict = Verdict(not excluded, reason, target_id)


@dataclass
class _RuleSet:
    """Inclusions or exclusions, compiled into lookup tables."""

    hosts: dict[str, list[_Rule]] = field(default_factory=dict)
    wildcards: dict[str, list[_Rule]] = field(default_factory=dict)  # apex -> rules
    # IP and CIDR targets per IP version, flattened for one binary search per address.
    ranges: dict[int, AddressRanges[_Rule]] = field(
        default_factory=lambda: {4: AddressRanges(), 6: AddressRanges()}
    )
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
            first, last = int(network.network_address), int(network.broadcast_address)
            self.ranges[network.version].add(first, last, rule)
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
        for ranges in self.ranges.values():
            ranges.finish()

    # --- lookups: the first live rule, or None ---

    # `rules and _live(rules, now)`: most probes miss, and a miss costs no call.

    def host(self, key: HostKey, now: float) -> _Rule | None:
        if key.version:
            rules: Sequence[_Rule] | None = self.ranges[key.version].covering(key.number)
            return (rules and _live(rules, now)) or None
        name = key.name
        rules = self.hosts.get(name)
        if rules and (rule := _live(rules, now)):
            return rule
        wildcards = self.wildcards
        if wildcards:
            index = name.find(".")
            while index != -1:
                rules = wildcards.get(name[index + 1 :])
                if rules and (rule := _live(rules, now)):
                    return rule
                index = name.find(".", index + 1)
        return None

    def url(self, key: UrlKey, now: float) -> _Rule | None:
        if self.urls_exact:
            rules = self.urls_exact.get((key.origin, key.path, key.query))
            if rules and (rule := _live(rules, now)):
                return rule
        if self.urls:
            for prefix in url_path_prefixes(key.path):
                rules = self.urls.get((key.origin, prefix))
                if rules and (rule := _live(rules, now)):
                    return rule
        return None

    def image(self, ref: ImageRef, now: float) -> _Rule | None:
        images = self.images
        if ref.digest:
            rules = images.get(f"{ref.name}@{ref.digest}")
            if rules and (rule := _live(rules, now)):
                return rule
        if ref.tag or not ref.digest:
            rules = images.get(f"{ref.name}:{ref.tag or 'latest'}")
            if rules and (rule := _live(rules, now)):
                return rule
        rules = self.image_repos.get(ref.name)
        if rules and (rule := _live(rules, now)):
            return rule
        if self.image_prefixes:
            index = ref.name.find("/")
            while index != -1:
                rules = self.image_prefixes.get(ref.name[:index])
                if rules and (rule := _live(rules, now)):
                    return rule
                index = ref.name.find("/", index + 1)
        return None

    def repo(self, path: str, now: float) -> _Rule | None:
        rules = self.repos.get(path)
        return (rules and _live(rules, now)) or None


def _live(rules: Sequence[_Rule], now: float) -> _Rule | None:
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
                self.excluded.add(row, _Rule(row.id, row.value, None, excluded=True))
            else:
                expires = row.expires_at.timestamp() if row.expires_at is not None else None
                if (
                    expires is not None
                    and self._fixed_now is not None
                    and expires <= self._fixed_now
                ):
                    continue
                self.included.add(row, _Rule(row.id, row.value, expires, excluded=False))
        self.included.finish()
        self.excluded.finish()

    @classmethod
    def for_team(cls, team_id: int, *, at: datetime | None = None) -> ScopeMatcher:
        """The team's exclusions and its authorizations not expired at `at` (default: now;
        with `at=None` an authorization that expires while the matcher lives stops covering)."""
        from django.db.models import Q
        from django.utils import timezone

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

    def check_value(self, kind: str, value: str) -> Verdict:
        """Check a raw string of an item kind (host, service, url, image, repo; domain and ip
        are accepted for host). Parse errors are out of scope, with the error as the reason."""
        return self.check(Item(_KIND_ALIASES.get(kind, kind), value))

    def check(self, item: Item) -> Verdict:
        kind, value = item.kind, item.value
        if not isinstance(value, str) or not value or len(value) > MAX_VALUE_LENGTH:
            return Verdict(False, f"`{shown(value)}` is not a valid {kind} value", None)
        # isprintable() is False for controls, format (zero-width, bidi) and separator characters
        # other than the space: the same set parsing refuses, in one C call.
        if value[0] == "-" or not value.isprintable() or " " in value:
            return Verdict(
                False,
                f"`{shown(value)}` contains whitespace, a control character or a leading '-'",
                None,
            )
        now = self._fixed_now if self._fixed_now is not None else time.time()
        try:
            if kind == "host":
                key = host_key(value)
                return self._host_verdict(key, now, f"no target covers host {key.name}")
            if kind == "service":
                key = service_host(value)
                uncovered = f"no target covers service {value} (host {key.name})"
                return self._host_verdict(key, now, uncovered)
            if kind == "url":
                url = url_key(value)
                rule = (
                    self._excluding(url.host, now)
                    or self.excluded.url(url, now)
                    or self.included.url(url, now)
                    or self.included.host(url.host, now)
                )
                return (
                    rule.verdict
                    if rule
                    else Verdict(False, f"no target covers url {shown(value, 200)}", None)
                )
            if kind == "image":
                ref = image_ref(value)
                rule = self.excluded.image(ref, now) or self.included.image(ref, now)
                return (
                    rule.verdict if rule else Verdict(False, f"no target covers image {ref}", None)
                )
            if kind == "repo":
                path = repo_path(value)
                rule = self.excluded.repo(path, now) or self.included.repo(path, now)
                return (
                    rule.verdict if rule else Verdict(False, f"no target covers repo {path}", None)
                )
        except ItemError as exc:
            return Verdict(False, str(exc), None)
        return Verdict(False, f"unknown item kind `{shown(kind, 20)}`", None)

    def _host_verdict(self, key: HostKey, now: float, uncovered: str) -> Verdict:
        """A host's (or a service's host's) verdict: an exclusion first, then a target."""
        rule = self._excluding(key, now) or self.included.host(key, now)
        return rule.verdict if rule else Verdict(False, uncovered, None)

    def _excluding(self, key: HostKey, now: float) -> _Rule | None:
        rule = self.excluded.host(key, now)
        if rule is None and key.mapped_from is not None:
            rule = self.excluded.host(key.as_ipv6, now)  # type: ignore[arg-type]
        return rule


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
