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
from scans.findings.acceptance import ACCEPT_MAX_DAYS, AcceptanceRefused, acceptance_decide
from scans.findings.diff import scan_diff
from scans.findings.forms import TriageForm
from scans.findings.groups import finding_groups, group_fingerprints
from scans.findings.ownership import finding_assign, findings_decorate, team_members
from scans.findings.queries import (
    DUE_CHOICES,
    ROW_DEFERRED,
    SORT_LABELS,
    YES_NO,
    CappedPaginator,
    FindingFilterForm,
    findings_for_team,
)
from scans.findings.triage import COMMENT_MAX, TRIAGE_MAX, finding_history, finding_triage
from scans.models import Finding, FindingState, Scan, Severity

PAGE_SIZE = 50
GROUP_ROWS = 20


def _filter_query(params: QueryDict, drop: tuple[str, ...] = ("page",)) -> str:
    """The active filters as a query string (for pagination links), without `page`."""
    pairs = [(k, v) for k in params for v in params.getlist(k) if k not in drop and v]
    return urlencode(pairs)


def _list_context(request: TeamHttpRequest, params: QueryDict) -> dict[str, Any]:
    team = request.team
    if "status" not in params and not params.get("scan"):
        params = params.copy()
        params["status"] = Finding.Status.OPEN  # the page starts with what needs attention
    form = FindingFilterForm(params)
    filters = form.filters() if form.is_valid() else {}
    grouped = params.get("view") == "groups"
    context: dict[str, Any] = {
        "form": form,
        "filters": filters,
        "grouped": grouped,
        "query": _filter_query(params),
        "filter_query": _filter_query(params, drop=("page", "view")),
        "severities": Severity.choices,
        "statuses": Finding.Status.choices,
        "sorts": list(SORT_LABELS.items()),
        "yes_no": YES_NO,
        "due_choices": DUE_CHOICES,
        "members": team_members(team),
        "triage_max": TRIAGE_MAX,
        "comment_max": COMMENT_MAX,
        "accept_max_days": ACCEPT_MAX_DAYS,
    }
    if grouped:
        raw_page = str(params.get("page", ""))
        page_no = int(raw_page) if raw_page.isdigit() else 1
        context["groups"] = finding_groups(team, user=request.user, page=page_no, **filters)
        return context
    rows = findings_for_team(team, user=request.user, **filters).defer(*ROW_DEFERRED)
    paginator = CappedPaginator(rows, PAGE_SIZE)
    page = paginator.get_page(params.get("page"))
    findings_decorate(team, page.object_list)
    context.update(
        page=page, count=min(paginator.count, paginator.cap), count_is_exact=paginator.is_exact
    )
    return context


@team_role_required(Role.VIEWER)
def finding_list(request: TeamHttpRequest) -> HttpResponse:
    context = _list_context(request, request.GET)
    if request.htmx and not request.htmx.boosted:
        partial = "scans/_groups_table.html" if context["grouped"] else "scans/_findings_table.html"
        return render(request, partial, context)
    return render(request, "scans/findings.html", context)


@team_role_required(Role.VIEWER)
def finding_group_rows(request: TeamHttpRequest) -> HttpResponse:
    """A group's findings (the grouped view expands a row with them), the first GROUP_ROWS."""
    form = FindingFilterForm(request.GET)
    filters = form.filters() if form.is_valid() else {}
    rule_id = request.GET.get("rule_id", "")
    filters["rule_id"] = rule_id
    found = findings_for_team(request.team, user=request.user, **filters).defer(*ROW_DEFERRED)
    rows = list(found[: GROUP_ROWS + 1])
    findings_decorate(request.team, rows)
    return render(
        request,
        "scans/_group_rows.html",
        {"rows": rows[:GROUP_ROWS], "more": len(rows) > GROUP_ROWS, "rule_id": rule_id,
         "query": _filter_query(request.GET, drop=("page", "view", "rule_id"))},
    )  # fmt: skip


def _triage_targets(request: TeamHttpRequest, back: QueryDict) -> list[str]:
    """The fingerprints a triage form names: checked rows (`ids`), whole groups (`rule_ids`,
    under the page's filters) or one finding."""
    team = request.team
    rule_ids = [r for r in request.POST.getlist("rule_ids")][:500]
    if rule_ids:
        params = back.copy()
        if "status" not in params and not params.get("scan"):
            params["status"] = Finding.Status.OPEN
        form = FindingFilterForm(params)
        filters = form.filters() if form.is_valid() else {"status": [Finding.Status.OPEN]}
        return group_fingerprints(team, rule_ids=rule_ids, user=request.user, **filters)
    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()][:TRIAGE_MAX]
    return list(Finding.objects.filter(team=team, pk__in=ids).values_list("fingerprint", flat=True))


@require_POST
@team_role_required(Role.ANALYST)
def finding_bulk_triage(request: TeamHttpRequest) -> HttpResponse:
    """Set the status of, or assign, the checked rows, whole groups, or one finding from its page;
    answers with the refreshed list."""
    team = request.team
    back = request.POST.get("next", "")
    form = TriageForm(request.POST, team=team)
    try:
        fingerprints = _triage_targets(request, QueryDict(back))
    except ValueError as exc:
        fingerprints = []
        messages.error(request, str(exc))
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(e) for e in errors))
    elif not fingerprints:
        messages.error(request, "Select at least one finding or group.")
    elif form.cleaned_data["action"] == "assign":
        assignee = form.assignee_user
        changed = finding_assign(
            team=team, fingerprints=fingerprints, assignee=assignee, user=request.user
        )
        who = assignee.email if assignee else "nobody"
        messages.success(request, f"{changed} finding(s) assigned to {who}.")
    else:
        status = form.cleaned_data["status"]
        try:
            result = finding_triage(
                team=team, fingerprints=fingerprints, user=request.user, status=status,
                comment=form.cleaned_data.get("comment", ""), accepted_until=form.until,
                role=request.role,
            )  # fmt: skip
        except AcceptanceRefused as exc:
            for message in exc.errors.values():
                messages.error(request, message)
        else:
            label = dict(Finding.Status.choices)[status]
            messages.success(request, f"{result.changed} finding(s) marked {label.lower()}.")
            if result.pending:
                messages.info(
                    request,
                    f"{result.pending} critical/high finding(s) wait for an owner to approve "
                    "the acceptance.",
                )
    if request.POST.get("finding"):
        return redirect("findings:detail", pk=int(request.POST["finding"]))
    if request.htmx:
        params = QueryDict(back)
        context = _list_context(request, params)
        template = (
            "scans/_groups_table.html" if context["grouped"] else "scans/_findings_table.html"
        )
        return render(request, template, context)
    return redirect(f"/findings/?{back}" if back else "/findings/")


@require_POST
@team_role_required(Role.OWNER)
def finding_acceptance_decide(request: TeamHttpRequest, pk: int) -> HttpResponse:
    """An owner approves or refuses a pending risk acceptance (from the finding's page)."""
    finding = get_object_or_404(Finding, pk=pk, team=request.team)
    approve = request.POST.get("decision") == "approve"
    decided = acceptance_decide(
        team=request.team, fingerprints=[finding.fingerprint], user=request.user,
        approve=approve, comment=request.POST.get("comment", ""),
    )  # fmt: skip
    if decided:
        messages.success(request, "Acceptance approved." if approve else "Acceptance refused.")
    else:
        messages.error(request, "No acceptance of this finding is waiting for approval.")
    return redirect("findings:detail", pk=finding.pk)


@team_role_required(Role.VIEWER)
def finding_detail(request: TeamHttpRequest, pk: int) -> HttpResponse:
    team = request.team
    finding = get_object_or_404(Finding.objects.select_related("scan", "step"), pk=pk, team=team)
    findings_decorate(team, [finding])
    state = (
        FindingState.objects.filter(team=team, fingerprint=finding.fingerprint)
        .select_related("updated_by", "accept_requested_by", "accept_approved_by", "assignee")
        .first()
    )
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
            "members": team_members(team),
            "comment_max": COMMENT_MAX,
            "accept_max_days": ACCEPT_MAX_DAYS,
            "is_owner": request.role == Role.OWNER,
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
                ("triaged", "Accepted or false positive", len(diff.triaged), []),
            ],
        },
    )
