"""Schedule pages: the list (next run, last outcome, pause/resume), create (pre-filled from a
workflow or a scan), edit, delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import TeamHttpRequest, is_htmx, team_of, user_of
from accounts.models import Role
from accounts.permissions import team_role_required
from integrations.forms import ScheduleForm, form_saved
from integrations.models import ScanSchedule
from integrations.schedules import services as schedules
from scans.models import Scan
from workflows.models import Workflow


def _schedule_for(request: HttpRequest, pk: int) -> ScanSchedule:
    return get_object_or_404(schedules.schedules_for(team_of(request)), pk=pk)


def _list_response(request: HttpRequest) -> HttpResponse:
    context = {"schedules": schedules.schedules_for(team_of(request))}
    template = "integrations/_schedules.html" if is_htmx(request) else "integrations/schedules.html"
    return render(request, template, context)


@team_role_required(Role.VIEWER)
def schedule_list(request: TeamHttpRequest) -> HttpResponse:
    return _list_response(request)


def _prefill(request: HttpRequest) -> dict[str, Any]:
    """?workflow=<id> (from a workflow) or ?scan=<id> (from a scan: its workflow and targets)."""
    team = team_of(request)
    initial: dict[str, Any] = {"cadence": "every", "every_hours": 24}
    scan_id = request.GET.get("scan", "")
    if scan_id.isdigit():
        scan = Scan.objects.filter(team=team, pk=int(scan_id)).first()
        if scan is not None and scan.workflow_id:
            initial["workflow"] = scan.workflow_id
            initial["targets"] = list(scan.targets.values_list("pk", flat=True))
            initial["name"] = f"{scan.workflow_name} (scheduled)"[:120]
    workflow_id = request.GET.get("workflow", "")
    if workflow_id.isdigit():
        workflow = Workflow.objects.filter(team=team, pk=int(workflow_id)).first()
        if workflow is not None:
            initial["workflow"] = workflow.pk
            initial.setdefault("name", f"{workflow.name} (scheduled)"[:120])
    return initial


@require_http_methods(["GET", "POST"])
@team_role_required(Role.ANALYST)
def schedule_new(request: TeamHttpRequest) -> HttpResponse:
    form = ScheduleForm(request.POST or None, team=team_of(request), initial=_prefill(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        cron, every_hours = form.cadence_values()
        schedule = form_saved(form, lambda: schedules.schedule_create(
            team=team_of(request), user=user_of(request), name=data["name"],
            workflow_id=data["workflow"].pk, target_ids=[t.pk for t in data["targets"]],
            consent=data["authorize_targets"], cron=cron, every_hours=every_hours,
        ))  # fmt: skip
        if schedule is not None:
            messages.success(request, f"Scheduled “{schedule.name}” ({schedule.cadence}).")
            return redirect("integrations:schedules")
    return _form_page(request, form, None)


@require_http_methods(["GET", "POST"])
@team_role_required(Role.ANALYST)
def schedule_edit(request: TeamHttpRequest, pk: int) -> HttpResponse:
    schedule = _schedule_for(request, pk)
    initial: dict[str, Any] = {
        "name": schedule.name, "workflow": schedule.workflow_id,
        "targets": [t.pk for t in schedule.targets.all()],
        "cadence": "cron" if schedule.cron else "every", "cron": schedule.cron,
        "every_hours": schedule.every_hours,
    }  # fmt: skip
    form = ScheduleForm(request.POST or None, team=team_of(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        cron, every_hours = form.cadence_values()
        changes: dict[str, Any] = {"name": data["name"], "cron": cron, "every_hours": every_hours}
        if data["workflow"].pk != schedule.workflow_id:
            changes["workflow_id"] = data["workflow"].pk
        target_ids = sorted(t.pk for t in data["targets"])
        if target_ids != sorted(initial["targets"]):
            changes["target_ids"] = target_ids
        if "workflow_id" in changes or "target_ids" in changes:
            changes["consent"] = data["authorize_targets"]
        user = user_of(request)
        saved = form_saved(
            form, lambda: schedules.schedule_update(schedule=schedule, user=user, **changes)
        )
        if saved is not None:
            messages.success(request, f"Saved “{schedule.name}”.")
            return redirect("integrations:schedules")
    return _form_page(request, form, schedule)


def _form_page(
    request: HttpRequest, form: ScheduleForm, schedule: ScanSchedule | None
) -> HttpResponse:
    context = {"form": form, "schedule": schedule}
    return render(
        request, "integrations/schedule_form.html", context, status=400 if form.errors else 200
    )


@require_POST
@team_role_required(Role.ANALYST)
def schedule_pause(request: TeamHttpRequest, pk: int) -> HttpResponse:
    schedules.schedule_pause(schedule=_schedule_for(request, pk), user=user_of(request))
    return _after_action(request)


@require_POST
@team_role_required(Role.ANALYST)
def schedule_resume(request: TeamHttpRequest, pk: int) -> HttpResponse:
    schedules.schedule_resume(schedule=_schedule_for(request, pk), user=user_of(request))
    return _after_action(request)


@require_POST
@team_role_required(Role.ANALYST)
def schedule_delete(request: TeamHttpRequest, pk: int) -> HttpResponse:
    schedules.schedule_delete(schedule=_schedule_for(request, pk), user=user_of(request))
    return _after_action(request)


def _after_action(request: HttpRequest) -> HttpResponse:
    if is_htmx(request):
        return _list_response(request)
    return redirect("integrations:schedules")
