"""Target pages: the list (search, kind filter, pagination, inline add, delete), edit, and bulk
import with a preview. Viewers read; analysts and owners write."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import TeamHttpRequest
from accounts.models import Role
from accounts.permissions import team_role_required
from targets import services
from targets.bulk import BulkReport, BulkTooLarge
from targets.forms import BulkImportForm, TargetFilterForm, TargetForm
from targets.models import Target

PAGE_SIZE = 50
# A preview of 10,000 lines would be a page of megabytes: past this many lines, only the
# lines that need attention (errors, duplicates) are listed, and the counts say the rest.
PREVIEW_MAX_ROWS = 500


def _list_context(request: TeamHttpRequest, params: QueryDict) -> dict[str, Any]:
    filters = TargetFilterForm(params)
    filters.is_valid()
    q = filters.cleaned_data.get("q", "") if filters.is_valid() else ""
    kind = filters.cleaned_data.get("kind", "") if filters.is_valid() else ""
    targets = services.targets_for(request.team, kind=kind or None, search=q or None)
    page = Paginator(targets, PAGE_SIZE).get_page(params.get("page"))
    return {
        "filters": filters,
        "page": page,
        "targets": page.object_list,
        "q": q,
        "kind": kind,
        "query": urlencode({k: v for k, v in (("q", q), ("kind", kind)) if v}),
    }


@require_GET
@team_role_required(Role.VIEWER)
def target_list(request: TeamHttpRequest) -> HttpResponse:
    context = _list_context(request, request.GET)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "targets/_list.html", context)
    return render(request, "targets/list.html", {**context, "form": TargetForm()})


@require_POST
@team_role_required(Role.ANALYST)
def target_add(request: TeamHttpRequest) -> HttpResponse:
    form = TargetForm(request.POST)
    created: Target | None = None
    if form.is_valid():
        try:
            created = services.target_create(
                team=request.team,
                user=request.user,
                value=form.cleaned_data["value"],
                kind=form.cleaned_data["kind"] or None,
                note=form.cleaned_data["note"],
                expires_at=form.cleaned_data["expires_at"],
                excluded=form.cleaned_data["excluded"],
            )
        except ValidationError as exc:
            form.apply_errors(exc)
    if request.htmx:
        # 200 even with errors: htmx does not swap 4xx answers, and the errors must show.
        response = render(
            request,
            "targets/_add_form.html",
            {"form": TargetForm() if created else form, "created": created},
        )
        if created:
            response["HX-Trigger"] = "targets-changed"
        return response
    if created:
        messages.success(request, f"Added {created.value} to the scope.")
        return redirect("targets:list")
    context = _list_context(request, request.GET)
    return render(request, "targets/list.html", {**context, "form": form}, status=400)


@require_http_methods(["GET", "POST"])
@team_role_required(Role.ANALYST)
def target_edit(request: TeamHttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(Target, pk=pk, team=request.team)
    if request.method == "POST":
        form = TargetForm(request.POST)
        if form.is_valid():
            expires_at = form.cleaned_data["expires_at"]
            shown_expiry = (
                target.expires_at.replace(second=0, microsecond=0) if target.expires_at else None
            )
            if expires_at == shown_expiry:
                # The form shows minutes: an untouched expiry is not a change (nor a re-authorization).
                expires_at = services.UNSET
            try:
                services.target_update(
                    target=target,
                    user=request.user,
                    value=form.cleaned_data["value"],
                    kind=form.cleaned_data["kind"] or None,
                    note=form.cleaned_data["note"],
                    expires_at=expires_at,
                    excluded=form.cleaned_data["excluded"],
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(request, f"Saved {target.value}.")
                return redirect("targets:list")
    else:
        form = TargetForm(initial={
            "value": target.value, "kind": target.kind, "expires_at": target.expires_at,
            "note": target.note, "excluded": target.excluded,
        })  # fmt: skip
    status = 400 if form.errors else 200
    return render(request, "targets/edit.html", {"form": form, "target": target}, status=status)


@require_POST
@team_role_required(Role.ANALYST)
def target_delete(request: TeamHttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(Target, pk=pk, team=request.team)
    value = target.value
    services.target_delete(target=target, user=request.user)
    if request.htmx:
        return render(request, "targets/_list.html", _list_context(request, request.POST))
    messages.success(request, f"Removed {value} from the scope.")
    return redirect("targets:list")


def _preview_rows(report: BulkReport | None) -> tuple[list[Any], int]:
    if report is None:
        return [], 0
    if len(report.lines) <= PREVIEW_MAX_ROWS:
        return report.lines, 0
    attention = [line for line in report.lines if line.status != "added"][:PREVIEW_MAX_ROWS]
    return attention, len(report.lines) - len(attention)


@require_http_methods(["GET", "POST"])
@team_role_required(Role.ANALYST)
def target_import(request: TeamHttpRequest) -> HttpResponse:
    form = BulkImportForm(request.POST or None, request.FILES or None)
    report: BulkReport | None = None
    if request.method == "POST" and form.is_valid():
        try:
            report = services.targets_bulk_import(
                team=request.team,
                user=request.user,
                text=None if form.is_csv else form.source(),
                csv_text=form.source() if form.is_csv else None,
                mode=form.cleaned_data["mode"],
                commit=request.POST.get("action") == "import",
            )
        except BulkTooLarge as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            form.add_error(None, exc)
        if report is not None:
            # Re-show what was submitted (the CSV travels on as a hidden field), unless it is done.
            keep = {} if report.committed else {
                "text": form.cleaned_data.get("text", ""), "csv_text": form.cleaned_data.get("csv_text", ""),
                "csv_name": form.cleaned_data.get("csv_name", ""),
            }  # fmt: skip
            form = BulkImportForm(initial={**keep, "mode": form.cleaned_data["mode"]})
    lines, hidden = _preview_rows(report)
    context = {
        "form": form,
        "report": report,
        "lines": lines,
        "hidden_lines": hidden,
        "preview_max": PREVIEW_MAX_ROWS,
    }
    template = "targets/_import.html" if request.htmx else "targets/import.html"
    status = 400 if form.errors and not request.htmx else 200
    return render(request, template, context, status=status)
