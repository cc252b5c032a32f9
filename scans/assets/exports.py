"""The inventory as CSV or JSON: the filtered list, streamed in chunks so a million assets never
sit in memory; CSV cells a spreadsheet would run as a formula get a leading `'`."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from scans.models import Asset

CHUNK = 2000
COLUMNS = (
    "id", "kind", "value", "state", "in_scope", "port", "status_code", "title", "product",
    "version", "technologies", "parent", "open_findings", "first_seen_at", "last_seen_at",
    "last_scan",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def asset_record(asset: Asset, parents: dict[int, str]) -> dict[str, Any]:
    """One asset as an export row (the JSON export adds its attrs)."""
    attrs = asset.attrs or {}
    return {
        "id": asset.pk,
        "kind": asset.kind,
        "value": asset.value,
        "state": "gone" if asset.gone_at else "live",
        "in_scope": asset.in_scope,
        "port": asset.port,
        "status_code": asset.status_code,
        "title": attrs.get("title", ""),
        "product": attrs.get("product", ""),
        "version": attrs.get("version", ""),
        "technologies": ", ".join(
            " ".join(filter(None, (t.get("name"), t.get("version"))))
            for t in attrs.get("technologies", [])
            if isinstance(t, dict)
        ),
        "parent": parents.get(asset.parent_id or 0, ""),
        "open_findings": asset.open_findings,
        "first_seen_at": asset.first_seen_at.isoformat(),
        "last_seen_at": asset.last_seen_at.isoformat(),
        "last_scan": asset.last_scan_id,
    }


def _chunks(qs: QuerySet[Asset]) -> Iterator[list[tuple[Asset, dict[int, str]]]]:
    """The rows in id order, CHUNK at a time (keyset on id: no OFFSET), with their parents'
    values read once per chunk."""
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).order_by("pk")[:CHUNK])
        if not rows:
            return
        parent_ids = {a.parent_id for a in rows if a.parent_id}
        parents = dict(Asset.objects.filter(pk__in=parent_ids).values_list("pk", "value"))
        yield [(a, parents) for a in rows]
        last = rows[-1].pk


def _safe(cell: Any) -> Any:
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return "" if cell is None else cell


class _Echo:
    def write(self, value: str) -> str:
        return value


def assets_csv(qs: QuerySet[Asset]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for chunk in _chunks(qs):
        for asset, parents in chunk:
            record = asset_record(asset, parents)
            yield writer.writerow([_safe(record[c]) for c in COLUMNS])


def assets_json(qs: QuerySet[Asset]) -> Iterator[str]:
    yield "["
    first = True
    for chunk in _chunks(qs):
        for asset, parents in chunk:
            record = {**asset_record(asset, parents), "attrs": asset.attrs or {}}
            yield ("" if first else ",\n") + json.dumps(record, default=str)
            first = False
    yield "]\n"


def assets_export_response(qs: QuerySet[Asset], fmt: str) -> StreamingHttpResponse:
    """A streamed download of the filtered inventory (`fmt`: csv or json)."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        response = StreamingHttpResponse(assets_csv(qs), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(assets_json(qs), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="inventory-{stamp}.{fmt}"'
    return response
