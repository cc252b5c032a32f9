"""Notification rules on the inventory: what a finished scan saw for the first time (a new
service, a new subdomain, a technology appearing) or saw about to lapse (a certificate expiring
within N days). Read from the scan's sightings (scans.assets: `ScanAsset`), so a port that was
open at the previous scan does not fire again: a rule fires once per newly opened port."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.messages import Message, public_url, scan_link
from integrations.models import NotificationRule, RuleEvent
from scans.models import AssetKind, Scan, ScanAsset

MAX_LISTED = 25
FIRST_SEEN = (ScanAsset.Change.NEW, ScanAsset.Change.REAPPEARED)


@dataclass
class AssetLine:
    event: str  # the rule event that matched
    kind: str
    value: str
    change: str
    detail: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _line(rule_event: str, sighting: ScanAsset, detail: str = "") -> AssetLine:
    asset = sighting.asset
    return AssetLine(
        event=rule_event, kind=asset.kind, value=asset.value[:300], change=sighting.change,
        detail=detail[:200], url=public_url(reverse("assets:detail", args=[asset.pk])),
    )  # fmt: skip


def _service_detail(attrs: dict[str, Any]) -> str:
    return " ".join(str(attrs.get(k) or "") for k in ("service", "product", "version")).strip()


def asset_rule_lines(scan: Scan, rules: list[NotificationRule]) -> list[AssetLine]:
    """The assets of `scan` that the rules (of one integration) match, in rule order."""
    lines: list[AssetLine] = []
    sightings = ScanAsset.objects.filter(scan=scan).select_related("asset")
    for rule in rules:
        if rule.event == RuleEvent.NEW_SERVICE:
            for s in sightings.filter(kind=AssetKind.SERVICE, change__in=FIRST_SEEN).order_by(
                "asset__value"
            ):
                lines.append(_line(rule.event, s, _service_detail(s.asset.attrs or {})))
        elif rule.event == RuleEvent.NEW_DOMAIN:
            for s in sightings.filter(kind=AssetKind.DOMAIN, change__in=FIRST_SEEN).order_by(
                "asset__value"
            ):
                lines.append(_line(rule.event, s))
        elif rule.event == RuleEvent.TECHNOLOGY_SEEN:
            wanted = {n.strip().lower() for n in rule.technology.split(",") if n.strip()}
            for s in sightings.filter(
                kind=AssetKind.TECHNOLOGY, change__in=FIRST_SEEN, asset__value__in=wanted
            ).order_by("asset__value"):
                lines.append(_line(rule.event, s, str((s.asset.attrs or {}).get("name", ""))))
        elif rule.event == RuleEvent.CERTIFICATE_EXPIRING:
            limit = timezone.now() + dt.timedelta(days=rule.days)
            certificates = sightings.filter(kind=AssetKind.CERTIFICATE).exclude(
                change=ScanAsset.Change.GONE
            )
            for s in certificates.order_by("asset__value"):
                not_after = parse_datetime(str((s.asset.attrs or {}).get("not_after") or ""))
                if not_after is not None and not_after <= limit:
                    name = (s.asset.attrs or {}).get("common_name") or s.asset.value[:16]
                    lines.append(_line(rule.event, s, f"{name} expires {not_after:%Y-%m-%d}"))
    return lines


_WORDS = {
    RuleEvent.NEW_SERVICE: ("new service", "new services"),
    RuleEvent.NEW_DOMAIN: ("new subdomain", "new subdomains"),
    RuleEvent.TECHNOLOGY_SEEN: ("technology appeared", "technologies appeared"),
    RuleEvent.CERTIFICATE_EXPIRING: ("certificate expiring", "certificates expiring"),
}


def message_for_assets(scan: Scan, lines: list[AssetLine]) -> Message:
    """One message about a scan's matched assets: counted per rule in the title, listed (the
    first MAX_LISTED) in the summary every platform shows and in the webhook's `assets`."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.event] = counts.get(line.event, 0) + 1
    said = ", ".join(
        f"{n} {_WORDS[RuleEvent(event)][0 if n == 1 else 1]}" for event, n in counts.items()
    )
    name = scan.workflow_name or scan.get_source_display()
    listed = "; ".join(
        f"{line.value}" + (f" ({line.detail})" if line.detail else "")
        for line in lines[:MAX_LISTED]
    )
    more = f" and {len(lines) - MAX_LISTED} more" if len(lines) > MAX_LISTED else ""
    targets = [str(t.get("value", "")) for t in scan.target_snapshot or [] if isinstance(t, dict)]
    return Message(
        event="asset_changes", title=f"Scan #{scan.pk} ({name}): {said}",
        summary=f"{listed}{more}.", team=scan.team.name, scan_id=scan.pk, scan_url=scan_link(scan),
        workflow=name, scan_status=scan.status, targets=targets[:50],
        assets=[line.to_dict() for line in lines[:MAX_LISTED]], assets_total=len(lines),
    )  # fmt: skip
