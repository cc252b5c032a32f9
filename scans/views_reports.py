"""The scan page's PDF report panel: ask for a report, watch it render (HTMX polling), download."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.models import Role, role_at_least
from accounts.permissions import team_role_required
from config.api_errors import Conflict
from scans.models import Report, Scan
from scans.reports.pdf import report_latest, report_request


@team_role_required(Role.VIEWER)
def scan_report_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the panel (it polls while a report renders). POST (analysts): render a new report."""
    scan = get_object_or_404(Scan, pk=pk, team=request.team)  # type: ignore[attr-defined]
    if request.method == "POST":
        if not role_at_least(getattr(request, "role", None), Role.ANALYST):
            messages.error(request, "Making reports needs the analyst role.")
        else:
            try:
                report_request(scan=scan, user=request.user, force=True)  # type: ignore[arg-type]
            except Conflict as exc:
                messages.error(request, str(exc.detail))
        if not request.htmx:  # type: ignore[attr-defined]
            return redirect("scans:detail", pk=scan.pk)
    return render(request, "scans/_report.html", {"scan": scan, "report": report_latest(scan)})


@team_role_required(Role.VIEWER)
def scan_report_download(request: HttpRequest, pk: int) -> HttpResponse:
    scan = get_object_or_404(Scan, pk=pk, team=request.team)  # type: ignore[attr-defined]
    report = (
        Report.objects.filter(scan=scan, status=Report.Status.READY).order_by("-created_at").first()
    )
    if report is None or not report.absolute_path.is_file():
        raise Http404("No report is ready for this scan.")
    return FileResponse(  # type: ignore[return-value]
        report.absolute_path.open("rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"outpost-scan-{scan.pk}-report.pdf",
    )
