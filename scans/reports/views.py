"""The report pages: the home page (the team's dashboard, scans.reports.dashboard, with the running
scans refreshed live by HTMX) and a scan's PDF report panel (ask for a report, watch it render,
download it)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.http import TeamHttpRequest
from accounts.models import Role, role_at_least
from accounts.permissions import team_role_required
from config.api_errors import Conflict
from scans.engine.runtime import SEVERITIES
from scans.models import Report, Scan
from scans.reports.dashboard import dashboard_for, running_scans
from scans.reports.pdf import report_latest, report_request


@login_required
def home(request: TeamHttpRequest) -> HttpResponse:
    """The team's dashboard; without a team, the welcome page (only an account in no team gets
    there: one added in the admin has no personal team)."""
    if getattr(request, "team", None) is not None:
        return dashboard(request)
    return render(request, "home.html")


@team_role_required(Role.VIEWER)
def dashboard(request: TeamHttpRequest) -> HttpResponse:
    board = dashboard_for(request.team)
    return render(request, "dashboard.html", {"board": board, "severities": SEVERITIES})


@team_role_required(Role.VIEWER)
def dashboard_running(request: TeamHttpRequest) -> HttpResponse:
    """The running-scans card; it keeps polling while any scan runs."""
    running = running_scans(request.team)
    return render(request, "_dashboard_running.html", {"running": running})


@team_role_required(Role.VIEWER)
def scan_report_panel(request: TeamHttpRequest, pk: int) -> HttpResponse:
    """GET: the panel (it polls while a report renders). POST (analysts): render a new report."""
    scan = get_object_or_404(Scan, pk=pk, team=request.team)
    if request.method == "POST":
        if not role_at_least(getattr(request, "role", None), Role.ANALYST):
            messages.error(request, "Making reports needs the analyst role.")
        else:
            try:
                report_request(scan=scan, user=request.user, force=True)
            except Conflict as exc:
                messages.error(request, str(exc.detail))
        if not request.htmx:
            return redirect("scans:detail", pk=scan.pk)
    return render(request, "scans/_report.html", {"scan": scan, "report": report_latest(scan)})


@team_role_required(Role.VIEWER)
def scan_report_download(request: TeamHttpRequest, pk: int) -> HttpResponse:
    scan = get_object_or_404(Scan, pk=pk, team=request.team)
    report = (
        Report.objects.filter(scan=scan, status=Report.Status.READY).order_by("-created_at").first()
    )
    if report is None or not report.is_stored:
        raise Http404("No report is ready for this scan.")
    return FileResponse(  # type: ignore[return-value]
        report.open(),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"outpost-scan-{scan.pk}-report.pdf",
    )
