"""Acting on inventory assets in bulk: add them as targets (authorize them) or exclude them,
through the targets app's one bulk import (`targets.services.targets_bulk_import`), so the
same checks, duplicate rules and audit event apply as on the Targets page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accounts.models import Team, User
from scans.models import Asset, AssetKind
from targets.bulk import BulkReport
from targets.services import targets_bulk_import

MAX_ASSETS = 1000
ACTIONS = ("add", "exclude")
# What target each asset kind becomes: a service is authorized through its host.
_TARGET_KIND: dict[str, str] = {
    AssetKind.DOMAIN: "domain",
    AssetKind.IP: "ip",
    AssetKind.URL: "url",
    AssetKind.IMAGE: "image",
    AssetKind.REPO: "repo",
}


@dataclass
class TargetsFromAssets:
    report: BulkReport | None
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {id, value, reason}
    not_found: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": self.report.to_dict() if self.report else None,
            "skipped": self.skipped,
            "not_found": self.not_found,
        }


def assets_to_targets(
    *, team: Team, user: User | None, asset_ids: list[int], action: str, note: str = ""
) -> TargetsFromAssets:
    """Add the assets as targets (`action="add"`) or as exclusions (`"exclude"`), the valid
    ones only; a service becomes its host; certificates, technologies and screenshots are
    skipped with the reason. The targets report says what was added and what was a duplicate."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    ids = sorted(set(asset_ids))[:MAX_ASSETS]
    assets = {a.pk: a for a in Asset.objects.filter(team=team, pk__in=ids).select_related("parent")}
    result = TargetsFromAssets(report=None, not_found=[pk for pk in ids if pk not in assets])
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for pk in ids:
        asset = assets.get(pk)
        if asset is None:
            continue
        source = asset.parent if asset.kind == AssetKind.SERVICE and asset.parent else asset
        kind = _TARGET_KIND.get(source.kind)
        if kind is None:
            result.skipped.append(
                {"id": pk, "value": asset.value, "reason": f"a {asset.kind} is not a target"}
            )
            continue
        if (kind, source.value) in seen:
            continue
        seen.add((kind, source.value))
        rows.append(
            {
                "value": source.value,
                "kind": kind,
                "note": note or f"from the inventory (asset #{pk})",
                "excluded": action == "exclude",
            }
        )
    if rows:
        result.report = targets_bulk_import(
            team=team, user=user, rows=rows, mode="valid_only", commit=True
        )
    return result
