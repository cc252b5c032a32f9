"""Findings pages: the cross-scan list with filters and bulk triage, one finding with its history
and triage form, and the scan page's diff against the previous scan."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.http import TeamHttpRequest
from accounts.models import Role
from accounts.permissions import team_role_required
from scans.findings.diff import scan_diff
from scans.findings.queries import (
    SORT_LABELS,
    CappedPaginator,
    FindingFilterForm,
    findings_for_team,
)
from scans.findings.triage import COMMENT_MAX, TRIAGE_MAX, finding_history, finding_triage
from scans.models import Finding, FindingState, Scan, Severity

PAGE_SIZE = 50


def _filter_query(params: QueryDict) -> str:
    """The active filters as a query string (for pagination links), without `page`."""
    pairs = [(k, v) for k in params for v in params.getlist(k) if k != "page" and v]
    return urlencode(pairs)


def _list_context(request: TeamHttpRequest, params: QueryDict) -> dict[str, Any]:
    team = request.team
    if "status" not in params and not params.get("scan"):
        params = params.copy()
        params["status"] = Finding.Status.OPEN  # the page starts with what needs attention
    form = FindingFilterForm(params)
    filters = form.filters() if form.is_valid() else {}
    paginator = CappedPaginator(findings_for_team(team, **filters), PAGE_SIZE)
    page = paginator.get_page(params.get("page"))
    return {
        "form": form,
        "filters": filters,
        "page": page,
        "count": min(paginator.count, paginator.cap),
        "count_is_exact": paginator.is_exact,
        "query": _filter_query(params),
        "severities": Severity.choices,
        "statuses": Finding.Status.choices,
        "sorts": list(SORT_LABELS.items()),
        "triage_max": TRIAGE_MAX,
        "comment_max": COMMENT_MAX,
    }


@team_role_required(Role.VIEWER)
def finding_list(request: TeamHttpRequest) -> HttpResponse:
    context = _list_context(request, request.GET)
    template = "scans/_findings_table.html" if request.htmx else "scans/findings.html"
    return render(request, template, context)


@require_POST
@team_role_required(Role.ANALYST)
def finding_bulk_triage(request: TeamHttpRequest) -> HttpResponse:
    """Triage the checked rows (or one finding from its page); answers with the refreshed list."""
    team = request.team
    status = request.POST.get("status", "")
    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()][:TRIAGE_MAX]
    fingerprints = list(
        Finding.objects.filter(team=team, pk__in=ids).values_list("fingerprint", flat=True)
    )
    if status not in Finding.Status.values:
        messages.error(request, "Choose a status.")
    elif not fingerprints:
        messages.error(request, "Select at least one finding.")
    else:
        result = finding_triage(
            team=team,
            fingerprints=fingerprints,
            user=request.user,
            status=status,
            comment=request.POST.get("comment", ""),
        )
        label = dict(Finding.Status.choices)[status]
        messages.success(request, f"{result.changed} finding(s) marked {label.lower()}.")
    back = request.POST.get("next", "")
    if request.POST.get("finding"):
        return redirect("findings:detail", pk=int(request.POST["finding"]))
    if request.htmx:
        return render(
            request, "scans/_findings_table.html", _list_context(request, QueryDict(back))
        )
    return redirect(f"/findings/?{back}" if back else "/findings/")


@team_role_required(Role.VIEWER)
def finding_detail(request: TeamHttpRequest, pk: int) -> HttpResponse:
    team = request.team
    finding = get_object_or_404(Finding.objects.select_related("scan", "step"), pk=pk, team=team)
    state = FindingState.objects.filter(team=team, fingerprint=finding.fingerprint).first()
    occurrences = list(
        Finding.objects.filter(team=team, fingerprint=finding.fingerprint)
        .select_related("scan")
        .only("id", "scan__id", "scan__workflow_name", "scan__created_at", "severity", "created_at")
        .order_by("-created_at", "-pk")[:20]
    )
    return render(
        request,
        "scans/finding_detail.html",
        {
            "finding": finding,
            "evidence_json": json.dumps(finding.evidence, indent=2, sort_keys=True, default=str)
            if finding.evidence
            else "",
            "state": state,
            "history": finding_history(team=team, fingerprint=finding.fingerprint),
            "occurrences": occurrences,
            "statuses": Finding.Status.choices,
            "comment_max": COMMENT_MAX,
        },
    )


@team_role_required(Role.VIEWER)
def scan_diff_panel(request: TeamHttpRequest, pk: int) -> HttpResponse:
    """The scan page's "compared with the previous scan" panel (loaded by HTMX)."""

    scan = get_object_or_404(Scan, pk=pk, team=request.team)
    diff = scan_diff(scan)
    limit = 25

    def rows(owner: Scan | None, fps: list[str]) -> list[Finding]:
        if owner is None or not fps:
            return []
        return list(
            Finding.objects.filter(
                team_id=owner.team_id, scan=owner, fingerprint__in=fps[:2000]
            ).order_by("-severity_rank", "title", "pk")[:limit]
        )

    return render(
        request,
        "scans/_diff.html",
        {
            "scan": scan,
            "diff": diff,
            "limit": limit,
            "groups": [
                ("new", "New", len(diff.new), rows(scan, diff.new)),
                ("fixed", "Fixed", len(diff.fixed), rows(diff.previous, diff.fixed)),
                ("still_open", "Still open", len(diff.still_open), rows(scan, diff.still_open)),
            ],
        },
    )
