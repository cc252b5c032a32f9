"""Reading the inventory: the list's filters and sorts, keyset pages that cost the same on page 1
and page 20,000, per-kind counts that stop at a cap, one asset with its relations, findings and
history, and a scan's change set.

Every sort is backed by an index of scans.models.Asset (team first), and a page is "the next 50
after this (sort value, id)" rather than an OFFSET, so the list answers in the same few
milliseconds at a million assets (tests/bench/test_inventory_scale.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django import forms
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils.dateparse import parse_datetime

from accounts.models import Team
from config.filtering import filtered_by
from config.formfields import UtcDateTimeField
from scans.models import Asset, AssetEvent, AssetKind, AssetLink, Finding, Scan, ScanAsset

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
COUNT_CAP = 10_000
RELATED_LIMIT = 50
COUNTS_TTL_S = 60
# sort key -> (the column, descending?); every sort ends with id so pages never shuffle.
ASSET_SORTS: dict[str, tuple[str, bool]] = {
    "-last_seen": ("last_seen_at", True),
    "-first_seen": ("first_seen_at", True),
    "value": ("value", False),
}
SORT_LABELS = {
    "-last_seen": "Last seen, newest",
    "-first_seen": "First seen, newest",
    "value": "Name",
}
TABS = [("", "All"), *AssetKind.choices]
KIND_WORDS: dict[str, tuple[str, str]] = {
    AssetKind.DOMAIN: ("domain", "domains"),
    AssetKind.IP: ("IP address", "IP addresses"),
    AssetKind.SERVICE: ("service", "services"),
    AssetKind.URL: ("URL", "URLs"),
    AssetKind.CERTIFICATE: ("certificate", "certificates"),
    AssetKind.TECHNOLOGY: ("technology", "technologies"),
    AssetKind.SCREENSHOT: ("screenshot", "screenshots"),
    AssetKind.IMAGE: ("image", "images"),
    AssetKind.REPO: ("repository", "repositories"),
}


class AssetFilterForm(forms.Form):
    """The inventory's query parameters, shared by the page and the API."""

    kind = forms.ChoiceField(choices=TABS, required=False)
    q = forms.CharField(required=False, max_length=200, help_text="Text in the asset's value")
    port = forms.IntegerField(required=False, min_value=1, max_value=65535)
    technology = forms.CharField(
        required=False, max_length=100, help_text="Assets a technology was found on (its name)"
    )
    status = forms.IntegerField(
        required=False, min_value=100, max_value=999, help_text="A URL's HTTP status code"
    )
    seen_since = UtcDateTimeField(required=False, help_text="First seen at or after")
    scope = forms.ChoiceField(
        choices=[("", "Any"), ("in", "In scope"), ("out", "Out of scope (leads)")], required=False
    )
    has_findings = forms.NullBooleanField(required=False, help_text="With open findings")
    state = forms.ChoiceField(
        choices=[("", "Any"), ("live", "Live"), ("gone", "Gone")], required=False
    )
    scan = forms.IntegerField(required=False, min_value=1, help_text="Seen by this scan")
    sort = forms.ChoiceField(choices=list(SORT_LABELS.items()), required=False)

    def filters(self) -> dict[str, Any]:
        """Cleaned values without the empty ones (call after is_valid())."""
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", [])}


def assets_for_team(team: Team, **filters: Any) -> QuerySet[Asset]:
    """The team's assets, filtered (keys as in AssetFilterForm), unordered: `AssetPage`
    orders and cuts them."""
    qs = filtered_by(
        Asset.objects.filter(team=team),
        filters,
        {"kind": "kind", "q": "value__icontains", "port": "port", "status": "status_code",
         "seen_since": "first_seen_at__gte"},
    )  # fmt: skip
    if filters.get("technology"):
        tech = Asset.objects.filter(
            team=team, kind=AssetKind.TECHNOLOGY, value=filters["technology"].strip().lower()
        ).values("pk")
        qs = qs.filter(
            pk__in=AssetLink.objects.filter(
                target__in=tech, relation=AssetLink.Relation.RUNS
            ).values("source_id")
        )
    if filters.get("scope") == "in":
        qs = qs.filter(in_scope=True)
    elif filters.get("scope") == "out":
        qs = qs.filter(in_scope=False)
    if filters.get("has_findings") is True:
        qs = qs.filter(open_findings__gt=0)
    elif filters.get("has_findings") is False:
        qs = qs.filter(open_findings=0)
    if filters.get("state") == "live":
        qs = qs.filter(gone_at__isnull=True)
    elif filters.get("state") == "gone":
        qs = qs.filter(gone_at__isnull=False)
    if filters.get("scan"):
        qs = qs.filter(
            pk__in=ScanAsset.objects.filter(scan_id=filters["scan"], scan__team=team).values(
                "asset_id"
            )
        )
    return qs


# --- Keyset pages ------------------------------------------------------------------------------


class BadCursor(ValueError):
    pass


def _encode(values: Sequence[Any]) -> str:
    text = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("not a cursor from this list") from None
    if not (isinstance(values, list) and len(values) == 3 and values[0] in ("n", "p")):
        raise BadCursor("not a cursor from this list")
    return values


@dataclass
class AssetPage:
    """One page of a filtered list in one sort, from a cursor (None: the first page)."""

    rows: list[Asset] = field(default_factory=list)
    next_cursor: str | None = None
    previous_cursor: str | None = None


def asset_page(
    qs: QuerySet[Asset],
    *,
    sort: str = "-last_seen",
    cursor: str | None = None,
    size: int = PAGE_SIZE,
) -> AssetPage:
    """The page after (or before) `cursor`: a cursor names the edge row's (sort value, id) and
    the direction, so the database reads `size` + 1 index entries whatever the page number.
    Raises BadCursor for a cursor this list did not make."""
    column, descending = ASSET_SORTS.get(sort, ASSET_SORTS["-last_seen"])
    size = max(1, min(size, MAX_PAGE_SIZE))
    direction, edge, edge_id = "n", None, None
    if cursor:
        direction, edge, edge_id = _decode(cursor)
        if column.endswith("_at"):
            edge = parse_datetime(str(edge)) if edge is not None else None
            if edge is None:
                raise BadCursor("not a cursor from this list")
        if not isinstance(edge_id, int):
            raise BadCursor("not a cursor from this list")
    backwards = direction == "p"
    # Reading backwards is reading the other way and turning the page around.
    down = descending != backwards
    if edge is not None:
        before, at_or_before = ("lt", "lte") if down else ("gt", "gte")
        qs = qs.filter(**{f"{column}__{at_or_before}": edge}).filter(
            Q(**{f"{column}__{before}": edge}) | Q(**{column: edge, f"pk__{before}": edge_id})
        )
    order = (f"-{column}", "-pk") if down else (column, "pk")
    rows = list(qs.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    page = AssetPage(rows=rows)
    if rows:
        first, last = rows[0], rows[-1]
        if more or backwards:
            page.next_cursor = _encode(["n", getattr(last, column), last.pk])
        if cursor and (more or not backwards):
            page.previous_cursor = _encode(["p", getattr(first, column), first.pk])
    return page


def asset_kind_counts(team: Team) -> dict[str, int]:
    """Assets per kind, each count stopping at COUNT_CAP + 1 (one index range a kind), kept a
    minute in the cache: the tabs show them on every page of the list, and a scan that is
    recording changes them every few seconds anyway."""

    def count() -> dict[str, int]:
        return {
            kind: Asset.objects.filter(team=team, kind=kind).values("pk")[: COUNT_CAP + 1].count()
            for kind in AssetKind.values
        }

    counts = cache.get_or_set(kind_counts_key(team.pk), count, COUNTS_TTL_S)
    return dict(counts or {})


def kind_counts_key(team_id: int) -> str:
    """The cache key of a team's tab counts (dropped when a scan records assets)."""
    return f"asset-kind-counts:{team_id}"


# --- One asset ----------------------------------------------------------------------------------


@dataclass
class AssetRelations:
    """What the asset page and `GET /api/v1/assets/{id}` show around an asset."""

    asset: Asset
    ancestors: list[Asset]  # parent first (a URL's service, then its host)
    children: list[Asset]  # a host's services, a service's URLs (first RELATED_LIMIT)
    children_more: bool
    certificate: Asset | None
    served_by: list[Asset]  # a certificate's services
    links_out: list[AssetLink]
    links_in: list[AssetLink]
    findings: list[Finding]
    events: list[AssetEvent]
    sightings: list[ScanAsset]
    screenshot: Asset | None


def asset_relations(asset: Asset) -> AssetRelations:
    """The asset's relations, its latest findings worst first, its history and the scans that
    saw it; each list is one indexed, LIMITed query."""
    ancestors: list[Asset] = []
    parent_id = asset.parent_id
    while parent_id and len(ancestors) < 3:
        parent = Asset.objects.filter(team_id=asset.team_id, pk=parent_id).first()
        if parent is None:
            break
        ancestors.append(parent)
        parent_id = parent.parent_id
    children = list(
        Asset.objects.filter(parent=asset).order_by("kind", "port", "value", "pk")[
            : RELATED_LIMIT + 1
        ]
    )
    links = AssetLink.objects.select_related("source", "target")
    findings = (
        Finding.objects.filter(asset=asset, is_latest=True)
        .select_related("scan")
        .only("id", "severity", "title", "rule_id", "tool", "status", "location", "last_seen_at",
              "scan__id", "scan__workflow_name")
        .order_by("-severity_rank", "-id")[:50]
    )  # fmt: skip
    shots = [c for c in children if c.kind == AssetKind.SCREENSHOT]
    return AssetRelations(
        asset=asset,
        ancestors=ancestors,
        children=[c for c in children[:RELATED_LIMIT] if c.kind != AssetKind.SCREENSHOT],
        children_more=len(children) > RELATED_LIMIT,
        certificate=asset.certificate if asset.certificate_id else None,
        served_by=list(Asset.objects.filter(certificate=asset).order_by("value")[:RELATED_LIMIT])
        if asset.kind == AssetKind.CERTIFICATE
        else [],
        links_out=list(links.filter(source=asset).order_by("relation", "pk")[:RELATED_LIMIT]),
        links_in=list(links.filter(target=asset).order_by("relation", "pk")[:RELATED_LIMIT]),
        findings=list(findings),
        events=list(AssetEvent.objects.filter(asset=asset).select_related("scan")[:50]),
        sightings=list(
            ScanAsset.objects.filter(asset=asset)
            .select_related("scan")
            .only(
                "id",
                "change",
                "kind",
                "asset_id",
                "scan__id",
                "scan__workflow_name",
                "scan__created_at",
                "scan__status",
            )
            .order_by("-scan_id")[:20]
        ),
        screenshot=shots[0] if shots else None,
    )


# --- A scan's change set --------------------------------------------------------------------------


@dataclass
class ScanChanges:
    """What one scan saw: counts by change and kind, and the changed assets (not `seen`)."""

    scan: Scan
    counts: dict[str, dict[str, int]]  # change -> kind -> n
    total: int
    changed: list[ScanAsset]
    changed_more: bool

    def summary(self) -> str:
        """'+3 services, -1 URL, 2 changed' (nothing: 'no changes')."""
        parts = []
        for change, sign in (("new", "+"), ("reappeared", "+"), ("gone", "-")):
            for kind, n in sorted(self.counts.get(change, {}).items()):
                one, many = KIND_WORDS.get(kind, (kind, f"{kind}s"))
                parts.append(f"{sign}{n} {one if n == 1 else many}")
        changed = sum(self.counts.get("changed", {}).values())
        if changed:
            parts.append(f"{changed} changed")
        return ", ".join(parts) or "no changes"


def scan_changes(scan: Scan, *, limit: int = 200) -> ScanChanges:
    """The scan's sightings: counted by (change, kind) in one grouped query, and the first
    `limit` that are not `seen`, new first."""
    counts: dict[str, dict[str, int]] = {}
    total = 0
    for change, kind, n in _grouped(scan):
        counts.setdefault(change, {})[kind] = n
        total += n
    rows = list(
        ScanAsset.objects.filter(scan=scan)
        .exclude(change=ScanAsset.Change.SEEN)
        .select_related("asset")
        .order_by("change", "kind", "asset__value")[: limit + 1]
    )
    return ScanChanges(scan, counts, total, rows[:limit], len(rows) > limit)


def _grouped(scan: Scan) -> list[tuple[str, str, int]]:
    return list(
        ScanAsset.objects.filter(scan=scan)
        .values_list("change", "kind")
        .annotate(n=Count("pk"))
        .values_list("change", "kind", "n")
        .order_by()
    )
