"""Scan pages: list, start (the New scan page and the builder's Run panel, with dry run), live
detail, cancel, delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException

from accounts.http import TeamHttpRequest
from accounts.models import Role
from accounts.permissions import team_role_required
from scans import services
from scans.engine.coverage import scan_coverage
from scans.engine.readiness import graph_images_check
from scans.findings.ownership import findings_decorate
from scans.findings.queries import DIFF_CHOICES, ROW_DEFERRED, findings_for_team, scan_open_counts
from scans.forms import ScanStartForm
from scans.models import Scan, ScanLog, ScanStatus, Severity
from workflows.models import Workflow

LOG_TAIL = 200
DIFF_KEYS = dict(DIFF_CHOICES)


@team_role_required(Role.VIEWER)
def scan_list(request: TeamHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    qs = services.scans_for(request.team, status=status if status in ScanStatus.values else None)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "statuses": ScanStatus.choices,
        "any_running": any(not s.is_finished for s in page.object_list),
    }
    # A boosted navigation (hx-boost) wants the whole page; an HTMX poll or filter the fragment.
    partial = request.htmx and not request.htmx.boosted
    template = "scans/_list.html" if partial else "scans/list.html"
    return render(request, template, context)


def _scan_for(request: TeamHttpRequest, pk: int) -> Scan:
    team = request.team
    return get_object_or_404(
        Scan.objects.select_related("workflow", "requested_by"), pk=pk, team=team
    )


def _detail_context(request: HttpRequest, scan: Scan) -> dict[str, Any]:
    severity = request.GET.get("severity", "")
    diff = request.GET.get("diff", "")
    filters: dict[str, Any] = {"scan": scan.pk}
    if severity in Severity.values:
        filters["severity"] = [severity]
    if diff in DIFF_KEYS:
        filters["diff"] = diff
    findings = (
        findings_for_team(scan.team, **filters)
        .defer(*ROW_DEFERRED)
        .order_by("-severity_rank", "title", "pk")
    )
    findings_page = Paginator(findings, 50).get_page(request.GET.get("page"))
    findings_decorate(scan.team, findings_page.object_list)
    logs = list(
        ScanLog.objects.filter(scan=scan)
        .select_related("step")
        .order_by("-created_at", "-pk")[:LOG_TAIL]
    )
    logs.reverse()
    steps = list(scan.steps.all())
    return {
        "scan": scan,
        "steps": steps,
        "coverage": scan_coverage(scan, steps),
        "findings_page": findings_page,
        "severity": severity,
        "diff": diff if diff in DIFF_KEYS else "",
        "diff_label": DIFF_KEYS.get(diff, ""),
        "extra": urlencode({k: v for k, v in (("severity", severity), ("diff", diff)) if v}),
        "severities": Severity.values,
        "logs": logs,
        "counts": [(s, (scan.severity_counts or {}).get(s, 0)) for s in Severity.values],
        "open_counts": scan_open_counts(scan),
    }


@team_role_required(Role.VIEWER)
def scan_detail(request: TeamHttpRequest, pk: int) -> HttpResponse:
    scan = _scan_for(request, pk)
    return render(request, "scans/detail.html", _detail_context(request, scan))


@team_role_required(Role.VIEWER)
def scan_live(request: TeamHttpRequest, pk: int) -> HttpResponse:
    """The part of the detail page that polls every 2 s until the scan ends."""
    scan = _scan_for(request, pk)
    response = render(request, "scans/_live.html", _detail_context(request, scan))
    if scan.is_finished:
        # Tell the page to refresh the findings once more; the polling element is gone now.
        response["HX-Trigger"] = "scan-finished"
    return response


@team_role_required(Role.VIEWER)
def scan_findings(request: TeamHttpRequest, pk: int) -> HttpResponse:
    scan = _scan_for(request, pk)
    return render(request, "scans/_findings.html", _detail_context(request, scan))


def _scan_start_from(request: TeamHttpRequest, form: ScanStartForm) -> Scan | None:
    """Start (or dry-run) what a valid scan-start form asks for; refusals (and the scan rate
    limit, shared with the API) become form errors."""
    dry_run = request.POST.get("action") == "dry_run"
    try:
        return services.scan_start(
            team=request.team,
            user=request.user,
            workflow=form.chosen_workflow(),
            target_ids=[t.pk for t in form.cleaned_data["targets"]],
            consent=form.cleaned_data["authorize_targets"],
            mode=Scan.Mode.DRY_RUN
            if dry_run
            else Scan.Mode.DEMO
            if request.POST.get("action") == "demo"
            else Scan.Mode.RUN,
            request=request,
        )
    except services.ScanRefused as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    except services.ScanRateLimited as exc:
        form.add_error(None, str(exc.detail))
        form.retry_after_s = exc.wait
    return None


def _form_answer(response: HttpResponse, form: ScanStartForm) -> HttpResponse:
    """A refused start answers 400, or 429 with Retry-After when the rate limit refused it."""
    if form.retry_after_s:
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after_s)
    elif form.errors:
        response.status_code = 400
    return response


@require_http_methods(["GET", "POST"])
@team_role_required(Role.ANALYST)
def scan_new(request: TeamHttpRequest) -> HttpResponse:
    initial = {}
    if request.GET.get("workflow"):
        initial["workflow"] = request.GET["workflow"]
    form = ScanStartForm(request.POST or None, team=request.team, initial=initial)
    plan_scan = None
    if request.method == "POST" and form.is_valid():
        scan = _scan_start_from(request, form)
        if scan is not None and scan.mode == Scan.Mode.DRY_RUN:
            plan_scan = scan
        elif scan is not None:
            kind = "Demo scan" if scan.mode == Scan.Mode.DEMO else "Scan"
            messages.success(request, f"{kind} #{scan.pk} started.")
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = reverse("scans:detail", args=[scan.pk])
                return response
            return redirect("scans:detail", pk=scan.pk)
    context = {"form": form, "plan_scan": plan_scan}
    template = "scans/_start.html" if request.htmx else "scans/new.html"
    return _form_answer(render(request, template, context), form)


@require_http_methods(["GET", "POST"])
@team_role_required(Role.ANALYST)
def workflow_run(request: TeamHttpRequest, pk: int) -> HttpResponse:
    """The builder's Run panel: GET shows it (the builder loads it), POST dry-runs (the plan,
    nothing executed) or runs the saved workflow on the chosen targets."""
    workflow = get_object_or_404(Workflow, pk=pk, team=request.team)
    form = ScanStartForm(request.POST or None, team=request.team, workflow=workflow)
    scan = None
    if request.method == "POST" and form.is_valid():
        scan = _scan_start_from(request, form)
    context = {
        "workflow": workflow,
        "run_form": form,
        "scan": scan,
        "dry_run": scan is not None and scan.mode == Scan.Mode.DRY_RUN,
    }
    response = render(request, "scans/_workflow_run.html", context)
    if form.retry_after_s:
        return _form_answer(response, form)
    return response


@team_role_required(Role.VIEWER)
def workflow_readiness(request: TeamHttpRequest, pk: int) -> HttpResponse:
    """The builder's readiness panel, its part that asks the executor: is each container
    tool's image present or pullable (or its program installed, for the local executor)?"""
    workflow = get_object_or_404(Workflow, pk=pk, team=request.team)
    checks = graph_images_check(workflow.graph)
    return render(request, "scans/_image_checks.html", {"checks": checks})


@require_POST
@team_role_required(Role.ANALYST)
def scan_cancel(request: TeamHttpRequest, pk: int) -> HttpResponse:
    scan = _scan_for(request, pk)
    if _done(request, lambda: services.scan_cancel(scan=scan, user=request.user)):
        messages.info(request, f"Scan #{scan.pk} is being cancelled.")
    return redirect("scans:detail", pk=scan.pk)


@require_POST
@team_role_required(Role.ANALYST)
def scan_delete(request: TeamHttpRequest, pk: int) -> HttpResponse:
    scan = _scan_for(request, pk)
    if not _done(request, lambda: services.scan_delete(scan=scan, user=request.user)):
        return redirect("scans:detail", pk=pk)
    messages.success(request, f"Scan #{pk} deleted.")
    return redirect("scans:list")


def _done(request: TeamHttpRequest, change: Callable[[], Any]) -> bool:
    """Whether the scan service did the change; its refusal (e.g. 409: the scan is running, or
    already finished) is shown as an error message instead."""
    try:
        change()
    except APIException as exc:
        messages.error(request, str(exc.detail))
        return False
    return True
