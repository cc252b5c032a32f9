"""The report-import page: upload reports tools already wrote (the tool detected or chosen; the
page says what each file is before it is imported); they become one completed scan through the
same service as POST /api/v1/scans/import."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import TeamHttpRequest
from accounts.models import Role
from accounts.permissions import team_role_required
from scans.imports.forms import ReportImportForm, report_tools
from scans.imports.services import (
    IMPORT_MAX_FILES,
    ImportRefused,
    import_summary,
    reports_identify,
    scan_import,
)


@require_http_methods(["GET", "POST"])
@team_role_required(Role.ANALYST)
def report_import(request: TeamHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ReportImportForm(request.POST, request.FILES)
    else:
        form = ReportImportForm()
    if request.method == "POST" and form.is_valid():
        uploads = form.cleaned_data["file"]
        tool = form.cleaned_data["tool"]
        try:
            scan = scan_import(
                team=request.team,
                user=request.user,
                tool=tool,
                files=[(upload.name or "", upload.read()) for upload in uploads],
                target=form.cleaned_data["target"],
                label=form.cleaned_data["workflow"],
            )
        except ImportRefused as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            summary = import_summary(scan)
            messages.success(
                request,
                f"Imported {summary['findings']} finding{pluralize(summary['findings'])} from a "
                f"{'+'.join(summary['tools'])} report: {summary['new']} new, "
                f"{summary['still_open']} still open, {summary['fixed']} fixed.",
            )
            return redirect("scans:detail", pk=scan.pk)
    context = {"form": form, "tools": report_tools()}
    return render(request, "scans/import.html", context, status=400 if form.errors else 200)


@require_POST
@team_role_required(Role.ANALYST)
def report_identify(request: TeamHttpRequest) -> HttpResponse:
    """What the chosen files are, before they are imported (the page asks when files or the
    tool change): each file's detected tool and format, or why it would be refused."""
    uploads = request.FILES.getlist("file")
    found = reports_identify(
        files=[(upload.name or "", upload.read()) for upload in uploads[:IMPORT_MAX_FILES]],
        tool=str(request.POST.get("tool") or ""),
    )
    return render(request, "scans/_import_identified.html", {"found": found})
