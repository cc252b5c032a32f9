"""Recording what a scan saw into the team's inventory: the one service every source goes through
(tool steps through `scans.findings.storage.step_result_store`, report imports through
`scans.imports.services.scan_import`), and concluding a scan's sightings when it ends.

`assets_record` upserts a batch of items in bulk: one round of statements per layer of assets
(hosts and certificates, then services, then URLs, then screenshots: each layer's parents are
ids by then), never one per asset. On PostgreSQL a layer is COPYed into a temporary table and
merged with one INSERT … ON CONFLICT that also returns, for the rows whose tracked attrs differ,
what they were before (scans.assets.writer); elsewhere the ORM does the same in chunks. What
changed becomes the asset's history (AssetEvent) and the scan's change set (ScanAsset).

`scan_assets_conclude` runs when a scan ends: a completed scan marks `gone` what the previous
scan of the same scope saw and it did not (a closed port is a gone service), and every scan
refreshes the open-finding counts of the assets its findings are about.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.bulkwrite import chunks, gc_paused, is_postgres
from scans.assets import writer
from scans.assets.observe import Key, Observation, Observed, item_for_value, observe
from scans.assets.queries import kind_counts_key
from scans.assets.writer import Stored
from scans.engine.runtime import FindingData
from scans.findings.diff import scan_previous
from scans.models import (
    Asset,
    AssetEvent,
    AssetKind,
    AssetLink,
    Finding,
    Scan,
    ScanAsset,
    ScanStatus,
)
from targets.items import Item
from targets.scope import ScopeMatcher

Change = ScanAsset.Change
# A sighting keeps the most telling change when several steps of a scan see one asset.
CHANGE_RANK: dict[str, int] = {
    Change.SEEN: 0,
    Change.CHANGED: 1,
    Change.REAPPEARED: 2,
    Change.NEW: 3,
}
# How an asset kind is checked against scope (certificates, technologies and screenshots are
# facts about assets that are, not things one scans).
_SCOPE_KIND: dict[str, str] = {
    AssetKind.DOMAIN: "host",
    AssetKind.IP: "host",
    AssetKind.SERVICE: "service",
    AssetKind.URL: "url",
    AssetKind.IMAGE: "image",
    AssetKind.REPO: "repo",
}


@dataclass
class Recorded:
    """What `assets_record` did: asset ids by (kind, value) and by item value (for findings),
    and counts of the batch's assets by change."""

    ids: dict[Key, int] = field(default_factory=dict)
    item_assets: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    skipped: int = 0


def assets_record(
    *,
    scan: Scan,
    items: Sequence[Item],
    findings: Iterable[FindingData] = (),
    at: datetime | None = None,
) -> Recorded:
    """Upsert what `items` say (docs/inventory.md) into the scan's team inventory, with the
    assets the findings are about (a finding's `item`, when no item names it), in bulk. Each
    asset gets first/last seen, the scan that last saw it, its scope verdict and, when a tracked
    attr changed or it was gone, an event; the scan gets one sighting per asset. Returns the
    asset ids, so findings can point at theirs."""
    extra = []
    named = {item.value for item in items}
    for finding in findings:
        if finding.item and finding.item not in named:
            derived = item_for_value(finding.item)
            if derived is not None:
                extra.append(derived)
                named.add(finding.item)
    with gc_paused():
        observed = observe([*items, *extra])
        return _record(scan, observed, at or timezone.now())


def _record(scan: Scan, observed: Observed, now: datetime) -> Recorded:
    recorded = Recorded(skipped=observed.skipped)
    if not observed.assets:
        return recorded
    scope = _ScopeCache(ScopeMatcher.for_team(scan.team_id), observed)
    sightings: dict[int, tuple[str, str]] = {}
    counts = dict.fromkeys(CHANGE_RANK, 0)
    events: list[AssetEvent] = []
    with transaction.atomic():
        for layer in observed.by_layer():
            rows = [_row(obs, recorded.ids, scope) for obs in layer]
            write = writer.assets_upsert if is_postgres() else _assets_upsert_orm
            stored = write(scan=scan, rows=rows, now=now)
            for obs, result in zip(layer, stored, strict=True):
                recorded.ids[obs.key] = result.id
                # New to the team (a first scan: every row) needs no comparison.
                change = (
                    Change.NEW
                    if result.created_by_scan
                    else _change(obs, result, scan, now, events)
                )
                sightings[result.id] = (obs.kind, change)
                counts[change] += 1
        recorded.counts = {change: n for change, n in counts.items() if n}
        _links_upsert(scan, observed, recorded.ids, now)
        write_sightings = writer.sightings_upsert if is_postgres() else _sightings_upsert_orm
        write_sightings(scan=scan, sightings=sightings)
        if events:
            AssetEvent.objects.bulk_create(events, batch_size=2000)
    transaction.on_commit(lambda: _forget_counts(scan.team_id))
    recorded.item_assets = {
        value: recorded.ids[key]
        for value, key in observed.item_assets.items()
        if key in recorded.ids
    }
    return recorded


def _forget_counts(team_id: int) -> None:
    # The tab counts are a convenience: a cache that is down must not fail the step.
    with contextlib.suppress(Exception):
        cache.delete(kind_counts_key(team_id))


@dataclass
class _ScopeCache:
    """Scope verdicts of a batch. A service is in scope exactly when its host is, and so is a URL
    when the team has no URL targets (the usual case): those are asked once per host."""

    matcher: ScopeMatcher
    observed: Observed
    verdicts: dict[Key, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rules = (self.matcher.included, self.matcher.excluded)
        self.urls_by_host = not any(r.urls or r.urls_exact for r in rules)

    def in_scope(self, obs: Observation, parent_in_scope: bool | None) -> bool:
        kind = _SCOPE_KIND.get(obs.kind)
        if kind is None:
            return True if parent_in_scope is None else parent_in_scope
        if parent_in_scope is not None and (
            obs.kind == AssetKind.SERVICE or (obs.kind == AssetKind.URL and self.urls_by_host)
        ):
            # The parent's verdict is its host's (a service's parent is its host, a URL's its
            # service): already known, as parents are written a layer before.
            self.verdicts[obs.key] = parent_in_scope
            return parent_in_scope
        known = self.verdicts.get(obs.key)
        if known is None:
            host = self._host_of(obs)
            if host is not None:
                known = self.in_scope(self.observed.assets[host], None)
            else:
                known = self.matcher.check(Item(kind, obs.value)).in_scope
            self.verdicts[obs.key] = known
        return known

    def _host_of(self, obs: Observation) -> Key | None:
        if obs.kind == AssetKind.SERVICE:
            return obs.parent
        if obs.kind == AssetKind.URL and self.urls_by_host and obs.parent:
            return self.observed.assets[obs.parent].parent
        return None


def _row(obs: Observation, ids: dict[Key, int], scope: _ScopeCache) -> writer.AssetRow:
    parent_in_scope = scope.verdicts.get(obs.parent) if obs.parent else None
    return writer.AssetRow(
        kind=obs.kind,
        value=obs.value,
        attrs=obs.attrs,
        tracked=obs.tracked,
        port=obs.port,
        status_code=obs.status_code,
        parent_id=ids.get(obs.parent) if obs.parent else None,
        certificate_id=ids.get(obs.certificate) if obs.certificate else None,
        in_scope=scope.in_scope(obs, parent_in_scope),
    )


def _change(
    obs: Observation, result: Stored, scan: Scan, now: datetime, events: list[AssetEvent]
) -> str:
    if result.created_by_scan:
        return Change.NEW
    if result.was_gone:
        events.append(_event(scan, result.id, AssetEvent.Kind.REAPPEARED, {}, now))
        return Change.REAPPEARED
    if result.before is not None:
        tracked = obs.tracked()
        diff = {
            name: [result.before.get(name), value]
            for name, value in tracked.items()
            if result.before.get(name) != value
        }
        if diff:
            events.append(_event(scan, result.id, AssetEvent.Kind.CHANGED, diff, now))
            return Change.CHANGED
    return Change.SEEN


def _event(scan: Scan, asset_id: int, kind: str, changes: dict[str, Any], now: datetime) -> Any:
    return AssetEvent(
        team_id=scan.team_id, asset_id=asset_id, scan=scan, kind=kind, changes=changes,
        created_at=now,
    )  # fmt: skip


def _links_upsert(scan: Scan, observed: Observed, ids: dict[Key, int], now: datetime) -> None:
    links = [
        AssetLink(
            team_id=scan.team_id,
            source_id=ids[source],
            relation=relation,
            target_id=ids[target],
            first_seen_at=now,
            last_seen_at=now,
        )
        for source, relation, target in sorted(observed.links)
        if source in ids and target in ids
    ]
    if links:
        AssetLink.objects.bulk_create(
            links,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["source", "relation", "target"],
            update_fields=["last_seen_at"],
        )


# --- The ORM path (SQLite) -----------------------------------------------------------------------


def _assets_upsert_orm(*, scan: Scan, rows: list[writer.AssetRow], now: datetime) -> list[Stored]:
    """assets_upsert with the ORM: the existing rows of the layer are read in chunks, merged in
    Python, and written with one bulk_update and one bulk_create."""
    existing: dict[Key, Asset] = {}
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row.value)
    for kind, values in by_kind.items():
        for chunk in chunks(values, 500):
            for asset in Asset.objects.filter(team_id=scan.team_id, kind=kind, value__in=chunk):
                existing[(asset.kind, asset.value)] = asset
    results: list[Stored] = []
    created: list[Asset] = []
    updated: list[Asset] = []
    for row in rows:
        known = existing.get((row.kind, row.value))
        if known is None:
            asset = Asset(
                team_id=scan.team_id, kind=row.kind, value=row.value, attrs=row.attrs,
                parent_id=row.parent_id, certificate_id=row.certificate_id, port=row.port,
                status_code=row.status_code, in_scope=row.in_scope, first_seen_at=now,
                last_seen_at=now, first_scan=scan, last_scan=scan,
            )  # fmt: skip
            created.append(asset)
            results.append(Stored(0, row.kind, True, None, False))
            continue
        asset = known
        before = asset.attrs or {}
        differs = any(before.get(k) != v for k, v in row.tracked().items())
        results.append(
            Stored(
                asset.pk,
                row.kind,
                asset.first_scan_id == scan.pk,
                dict(before) if differs else None,
                asset.gone_at is not None,
            )
        )
        asset.attrs = {**before, **row.attrs}
        asset.parent_id = row.parent_id or asset.parent_id
        asset.certificate_id = row.certificate_id or asset.certificate_id
        asset.port = asset.port if row.port is None else row.port
        asset.status_code = asset.status_code if row.status_code is None else row.status_code
        asset.in_scope = row.in_scope
        asset.last_seen_at, asset.last_scan, asset.gone_at = now, scan, None
        updated.append(asset)
    if updated:
        Asset.objects.bulk_update(
            updated,
            ["attrs", "parent", "certificate", "port", "status_code", "in_scope",
             "last_seen_at", "last_scan", "gone_at"],
            batch_size=500,
        )  # fmt: skip
    if created:
        Asset.objects.bulk_create(created, batch_size=500)
        made = iter(created)
        for index, result in enumerate(results):
            if result.id == 0:
                results[index].id = next(made).pk
    return results


def _sightings_upsert_orm(*, scan: Scan, sightings: dict[int, tuple[str, str]]) -> None:
    known: dict[int, str] = {}
    ids = list(sightings)
    for chunk in chunks(ids, 500):  # type: ignore[arg-type]
        known.update(
            ScanAsset.objects.filter(scan=scan, asset_id__in=chunk).values_list(
                "asset_id", "change"
            )
        )
    new, changed = [], []
    for asset_id, (kind, change) in sightings.items():
        if asset_id not in known:
            new.append(ScanAsset(scan=scan, asset_id=asset_id, kind=kind, change=change))
        elif CHANGE_RANK.get(change, 0) > CHANGE_RANK.get(known[asset_id], 0):
            changed.append((asset_id, change))
    ScanAsset.objects.bulk_create(new, batch_size=500)
    for asset_id, change in changed:
        ScanAsset.objects.filter(scan=scan, asset_id=asset_id).update(change=change)


# --- When a scan ends ------------------------------------------------------------------------------


def scan_assets_conclude(scan: Scan) -> int:
    """A finished scan's inventory work: when it completed, the assets the previous scan of
    the same scope (scans.findings.diff.scan_previous) saw and it did not become `gone` (with
    an event and a `gone` sighting in this scan), unless another scan saw them since this one
    started; then the open-finding counts of the assets its findings are about. Returns how
    many assets went."""
    gone = 0
    if scan.status == ScanStatus.COMPLETED and scan.mode == Scan.Mode.RUN:
        gone = _mark_gone(scan)
    assets_open_findings_refresh(team_id=scan.team_id, scans=[scan])
    return gone


def _mark_gone(scan: Scan) -> int:
    previous = scan_previous(scan)
    if previous is None:
        return 0
    before = set(
        ScanAsset.objects.filter(scan=previous)
        .exclude(change=Change.GONE)
        .values_list("asset_id", flat=True)
    )
    before -= set(ScanAsset.objects.filter(scan=scan).values_list("asset_id", flat=True))
    now = timezone.now()
    went: list[tuple[int, str]] = []
    with transaction.atomic():
        for chunk in chunks(sorted(before), 2000):  # type: ignore[arg-type]
            rows = Asset.objects.filter(
                team_id=scan.team_id,
                pk__in=chunk,
                gone_at__isnull=True,
                last_seen_at__lt=scan.created_at,
            )
            found = list(rows.values_list("pk", "kind"))
            Asset.objects.filter(pk__in=[pk for pk, _ in found]).update(gone_at=now)
            went += found
        ScanAsset.objects.bulk_create(
            [ScanAsset(scan=scan, asset_id=pk, kind=kind, change=Change.GONE) for pk, kind in went],
            batch_size=2000,
            ignore_conflicts=True,
        )
        AssetEvent.objects.bulk_create(
            [_event(scan, pk, AssetEvent.Kind.GONE, {}, now) for pk, _ in went], batch_size=2000
        )
    return len(went)


def assets_open_findings_refresh(*, team_id: int, scans: Iterable[Scan] | None = None) -> int:
    """Recount `Asset.open_findings` (open findings at their latest occurrence): for the assets
    of these scans' findings and of the previous scans of the same scope (whose findings the
    scan may just have closed), or for the whole team when `scans` is None (after triage)."""
    open_rows = Finding.objects.filter(
        asset_id=OuterRef("pk"), is_latest=True, status=Finding.Status.OPEN
    )
    count = Subquery(
        open_rows.order_by().values("asset_id").annotate(n=Count("pk")).values("n")[:1]
    )
    assets = Asset.objects.filter(team_id=team_id)
    if scans is None:
        with_findings = Finding.objects.filter(
            team_id=team_id, is_latest=True, status=Finding.Status.OPEN, asset__isnull=False
        ).values("asset_id")
        assets = assets.filter(Q(open_findings__gt=0) | Q(pk__in=with_findings))
    else:
        owners = [s.pk for s in scans]
        owners += [p.pk for s in scans if (p := scan_previous(s)) is not None]
        ids = Finding.objects.filter(scan_id__in=owners, asset__isnull=False).values("asset_id")
        assets = assets.filter(pk__in=ids)
    return assets.update(open_findings=Coalesce(count, 0))
