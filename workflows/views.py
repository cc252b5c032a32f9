"""Workflow list pages: list, create (blank or from a template), import, duplicate, delete.
The builder's own views are in workflows.builder."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.http import TeamHttpRequest
from accounts.models import Role, Team
from accounts.permissions import team_role_required
from workflows import services
from workflows.forms import WorkflowCreateForm, WorkflowImportForm
from workflows.models import Workflow
from workflows.templates import TEMPLATES


def workflow_for(request: TeamHttpRequest, pk: int) -> Workflow:
    """The request's team's workflow, else 404 (another team's is a 404 too)."""
    return get_object_or_404(Workflow, pk=pk, team=request.team)


def workflows_with_last_scan(team: Team) -> QuerySet[Workflow]:
    """The team's workflows, each with its latest scan's id, status, mode and time. The scans are
    read through the reverse relation of the scans app's `Scan.workflow` (`Workflow.scans`), so
    this app imports nothing from the app above it."""
    scans = Workflow._meta.get_field("scans").related_model._default_manager  # type: ignore[union-attr]
    latest = scans.filter(workflow=OuterRef("pk")).order_by("-created_at", "-pk")
    return services.workflows_for(team).annotate(
        last_scan_id=Subquery(latest.values("pk")[:1]),
        last_scan_status=Subquery(latest.values("status")[:1]),
        last_scan_mode=Subquery(latest.values("mode")[:1]),
        last_scan_at=Subquery(latest.values("created_at")[:1]),
    )


def _list_context(request: TeamHttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "workflows": workflows_with_last_scan(request.team),
        "create_form": extra.pop("create_form", None) or WorkflowCreateForm(),
        "import_form": extra.pop("import_form", None) or WorkflowImportForm(),
        "templates": list(TEMPLATES.values()),
        **extra,
    }


def _list_response(request: TeamHttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    template = "workflows/_list.html" if request.htmx else "workflows/list.html"
    return render(request, template, _list_context(request, **extra), status=status)


@team_role_required(Role.VIEWER)
def workflow_list(request: TeamHttpRequest) -> HttpResponse:
    return render(request, "workflows/list.html", _list_context(request))


@require_POST
@team_role_required(Role.ANALYST)
def workflow_new(request: TeamHttpRequest) -> HttpResponse:
    form = WorkflowCreateForm(request.POST)
    if form.is_valid():
        try:
            if form.cleaned_data["template"]:
                workflow = services.workflow_create_from_template(
                    team=request.team,
                    user=request.user,
                    template_key=form.cleaned_data["template"],
                    name=form.cleaned_data["name"] or None,
                )
            else:
                workflow = services.workflow_create(
                    team=request.team, user=request.user, name=form.cleaned_data["name"]
                )
        except services.WorkflowInvalid as exc:
            for field, problems in exc.fields.items():
                form.add_error(field if field in form.fields else None, problems)
            for error in exc.graph_errors:
                form.add_error("template", str(error))
        else:
            return redirect("workflows:builder", pk=workflow.pk)
    return render(
        request, "workflows/list.html", _list_context(request, create_form=form), status=400
    )


@require_POST
@team_role_required(Role.ANALYST)
def workflow_import(request: TeamHttpRequest) -> HttpResponse:
    form = WorkflowImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            workflow = services.workflow_import(
                team=request.team,
                user=request.user,
                data=form.cleaned_data["file"].read(),
                fmt=form.format,
            )
        except services.WorkflowInvalid as exc:
            for field, problems in exc.fields.items():
                form.add_error(
                    "file", [f"{field}: {p}" if field != "file" else p for p in problems]
                )
            for error in exc.graph_errors[:10]:
                form.add_error("file", str(error))
        else:
            messages.success(request, f"Imported “{workflow.name}”.")
            return redirect("workflows:builder", pk=workflow.pk)
    return render(
        request, "workflows/list.html", _list_context(request, import_form=form), status=400
    )


@require_POST
@team_role_required(Role.ANALYST)
def workflow_duplicate(request: TeamHttpRequest, pk: int) -> HttpResponse:
    workflow = workflow_for(request, pk)
    copy = services.workflow_duplicate(workflow=workflow, user=request.user)
    messages.success(request, f"“{copy.name}” created.")
    if not request.htmx:
        return redirect("workflows:builder", pk=copy.pk)
    return _list_response(request)


@require_POST
@team_role_required(Role.ANALYST)
def workflow_delete(request: TeamHttpRequest, pk: int) -> HttpResponse:
    workflow = workflow_for(request, pk)
    name = workflow.name
    services.workflow_delete(workflow=workflow, user=request.user)
    messages.info(request, f"“{name}” deleted; its scans are kept.")
    if not request.htmx:
        return redirect("workflows:list")
    if request.headers.get("HX-Target") != "workflow-list":  # deleted from the builder
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("workflows:list")
        return response
    return _list_response(request)
