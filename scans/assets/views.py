"""Inventory pages: the list (tabs per kind, search, filters, sort, keyset pages, bulk "add as
target" / "exclude"), one asset with its relations, findings, history and screenshot, and the
scan page's "this scan found …" panel."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.http import TeamHttpRequest
from accounts.models import Role
from accounts.permissions import team_role_required
from scans.assets.actions import MAX_ASSETS, assets_to_targets
from scans.assets.queries import (
    SORT_LABELS,
    TABS,
    AssetFilterForm,
    BadCursor,
    asset_kind_counts,
    asset_page,
    asset_relations,
    assets_for_team,
    scan_changes,
)
from scans.findings.diff import scan_previous
from scans.models import Artifact, Asset, AssetKind, Scan


def _query(params: QueryDict, *, without: tuple[str, ...] = ("cursor",)) -> str:
    pairs = [(k, v) for k in params for v in params.getlist(k) if k not in without and v]
    return urlencode(pairs)


def _list_context(request: TeamHttpRequest, params: QueryDict) -> dict[str, Any]:
    form = AssetFilterForm(params)
    filters = form.filters() if form.is_valid() else {}
    try:
        page = asset_page(
            assets_for_team(request.team, **filters),
            sort=filters.get("sort", "-last_seen"),
            cursor=params.get("cursor") or None,
        )
    except BadCursor:
        messages.error(request, "That page link is no longer valid; showing the first page.")
        page = asset_page(
            assets_for_team(request.team, **filters), sort=filters.get("sort", "-last_seen")
        )
    counts = asset_kind_counts(request.team)
    return {
        "form": form,
        "filters": filters,
        "page": page,
        "tabs": [(value, label, counts.get(value)) for value, label in TABS],
        "total": sum(counts.values()),
        "cap": 10_000,
        "query": _query(params),
        "tab_query": _query(params, without=("cursor", "kind")),
        "sorts": list(SORT_LABELS.items()),
        "max_selected": MAX_ASSETS,
    }


@team_role_required(Role.VIEWER)
def asset_list(request: TeamHttpRequest) -> HttpResponse:
    context = _list_context(request, request.GET)
    partial = request.htmx and not request.htmx.boosted
    return render(request, "assets/_table.html" if partial else "assets/list.html", context)


@require_POST
@team_role_required(Role.ANALYST)
def asset_targets(request: TeamHttpRequest) -> HttpResponse:
    """Add the ticked assets as targets, or exclude them; answers with the refreshed list."""
    action = request.POST.get("action", "")
    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()][:MAX_ASSETS]
    if action not in ("add", "exclude"):
        messages.error(request, "Choose to add the assets as targets or to exclude them.")
    elif not ids:
        messages.error(request, "Select at least one asset.")
    else:
        result = assets_to_targets(
            team=request.team, user=request.user, asset_ids=ids, action=action
        )
        counts = result.report.counts if result.report else {"added": 0, "duplicate": 0, "error": 0}
        word = "exclusion" if action == "exclude" else "target"
        text = f"{counts['added']} {word}{'' if counts['added'] == 1 else 's'} added"
        if counts["duplicate"]:
            text += f", {counts['duplicate']} already in Targets"
        if counts["error"]:
            reasons = (
                "; ".join(line.reason for line in result.report.errors[:3]) if result.report else ""
            )
            text += f", {counts['error']} refused ({reasons})"
        if result.skipped:
            text += f", {len(result.skipped)} skipped ({result.skipped[0]['reason']})"
        (messages.warning if counts["error"] else messages.success)(request, text + ".")
    back = request.POST.get("next", "")
    if request.htmx:
        return render(request, "assets/_table.html", _list_context(request, QueryDict(back)))
    return redirect(f"/assets/?{back}" if back else "/assets/")


@team_role_required(Role.VIEWER)
def asset_detail(request: TeamHttpRequest, pk: int) -> HttpResponse:
    asset = get_object_or_404(
        Asset.objects.select_related("certificate", "first_scan", "last_scan"),
        pk=pk,
        team=request.team,
    )
    relations = asset_relations(asset)
    return render(
        request,
        "assets/detail.html",
        {
            "asset": asset,
            "rel": relations,
            "attrs": _shown_attrs(asset),
            "technologies": (asset.attrs or {}).get("technologies", []),
            "kind_label": dict(AssetKind.choices)[asset.kind],
        },
    )


def _shown_attrs(asset: Asset) -> list[tuple[str, str]]:
    """The asset's attrs as (label, text) rows: lists joined, booleans as yes/no."""
    rows = []
    for name, value in sorted((asset.attrs or {}).items()):
        if name == "technologies":
            continue  # shown as links
        if (name == "status" and asset.status_code) or (name == "port" and asset.port):
            continue  # the row of the column above says it already
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        else:
            text = str(value)
        words = [_ACRONYMS.get(w, w) for w in name.split("_")]
        rows.append((" ".join(words)[:1].upper() + " ".join(words)[1:], text))
    return rows


_ACRONYMS = {w: w.upper() for w in ("tls", "dns", "asn", "cpe", "http", "ip", "os", "url", "waf")}


@team_role_required(Role.VIEWER)
def asset_screenshot(request: TeamHttpRequest, pk: int) -> HttpResponse:
    """A screenshot asset's image: the artifact it names, if it belongs to a scan of the team."""
    shot = get_object_or_404(Asset, pk=pk, team=request.team, kind=AssetKind.SCREENSHOT)
    artifact_id = (shot.attrs or {}).get("artifact")
    artifact = (
        Artifact.objects.filter(pk=artifact_id, scan__team=request.team).first()
        if isinstance(artifact_id, int)
        else None
    )
    if artifact is None or not artifact.is_stored:
        raise Http404("The screenshot file is gone (artifacts expire).")
    response = FileResponse(artifact.open(), content_type="image/png")
    response["Content-Disposition"] = "inline"
    # A streaming response is served like any other; the decorators' typing wants HttpResponse.
    return response  # type: ignore[return-value]


@team_role_required(Role.VIEWER)
def scan_assets_panel(request: TeamHttpRequest, pk: int) -> HttpResponse:
    """The scan page's panel: what the scan found and what changed since the previous scan of
    the same scope (loaded by HTMX)."""
    scan = get_object_or_404(Scan, pk=pk, team=request.team)
    changes = scan_changes(scan, limit=50)
    return render(
        request,
        "assets/_scan_panel.html",
        {"scan": scan, "changes": changes, "previous": scan_previous(scan)},
    )
