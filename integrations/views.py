"""Integration pages: the list with the team's notification rules, add/edit/delete, send a test,
the delivery log, and sending a scan's findings on demand. Schedules: integrations/schedules/."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import TeamHttpRequest, is_htmx, team_of, user_of
from accounts.models import Role
from accounts.permissions import team_role_required
from integrations import notify, services
from integrations.forms import IntegrationForm, NotifyForm, RuleForm, form_saved
from integrations.models import Delivery, Integration, IntegrationKind, NotificationRule
from scans.models import Scan

DELIVERIES_SHOWN = 50


def _integration_for(request: HttpRequest, pk: int) -> Integration:
    return get_object_or_404(
        Integration.objects.select_related("team"), pk=pk, team=team_of(request)
    )


def _list_context(request: HttpRequest, rule_form: RuleForm | None = None) -> dict[str, Any]:
    team = team_of(request)
    last = Delivery.objects.filter(integration=OuterRef("pk")).order_by("-created_at", "-pk")
    integrations = services.integrations_for(team).annotate(
        last_status=Subquery(last.values("status")[:1]),
        last_at=Subquery(last.values("created_at")[:1]),
    )
    return {
        "integrations": integrations,
        "kinds": IntegrationKind.choices,
        "rules": services.rules_for(team),
        "rule_form": rule_form or RuleForm(team=team),
    }


@team_role_required(Role.VIEWER)
def integration_list(request: TeamHttpRequest) -> HttpResponse:
    return render(request, "integrations/list.html", _list_context(request))


@require_http_methods(["GET", "POST"])
@team_role_required(Role.ANALYST)
def integration_new(request: TeamHttpRequest, kind: str) -> HttpResponse:
    if kind not in IntegrationKind.values:
        raise Http404("unknown kind")
    form = IntegrationForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        integration = form_saved(form, lambda: services.integration_create(
            team=team_of(request), user=user_of(request), kind=kind, name=data["name"],
            webhook_url=data.get("webhook_url", ""), signing_secret=data.get("signing_secret", ""),
            recipients=data.get("recipients", ""), is_enabled=data["is_enabled"],
        ))  # fmt: skip
        if integration is not None:
            messages.success(
                request, f"Added {integration.get_kind_display()} integration “{integration.name}”."
            )
            return redirect("integrations:detail", pk=integration.pk)
    context = {"form": form, "kind": kind, "kind_label": IntegrationKind(kind).label}
    return render(request, "integrations/new.html", context, status=400 if form.errors else 200)


def _detail_context(
    request: HttpRequest, integration: Integration, form: Any = None
) -> dict[str, Any]:
    initial = {"name": integration.name, "is_enabled": integration.is_enabled}
    if integration.kind == IntegrationKind.EMAIL:
        initial["recipients"] = ", ".join(integration.recipients)
    return {
        "integration": integration,
        "form": form or IntegrationForm(kind=integration.kind, editing=True, initial=initial),
        **_deliveries_context(integration),
    }


def _deliveries_context(integration: Integration) -> dict[str, Any]:
    deliveries = list(services.deliveries_for(integration)[:DELIVERIES_SHOWN])
    return {
        "integration": integration,
        "deliveries": deliveries,
        "any_pending": any(not d.is_final for d in deliveries),
    }


@team_role_required(Role.VIEWER)
def integration_detail(request: TeamHttpRequest, pk: int) -> HttpResponse:
    integration = _integration_for(request, pk)
    return render(request, "integrations/detail.html", _detail_context(request, integration))


@require_POST
@team_role_required(Role.ANALYST)
def integration_edit(request: TeamHttpRequest, pk: int) -> HttpResponse:
    integration = _integration_for(request, pk)
    form = IntegrationForm(request.POST, kind=integration.kind, editing=True)
    if form.is_valid():
        data = form.cleaned_data
        changes: dict[str, Any] = {"name": data["name"], "is_enabled": data["is_enabled"]}
        if integration.kind == IntegrationKind.EMAIL:
            changes["recipients"] = data["recipients"]
        else:
            changes["webhook_url"] = data.get("webhook_url", "")
            if "signing_secret" in data:
                changes["signing_secret"] = data["signing_secret"]
        user = user_of(request)
        saved = form_saved(
            form, lambda: services.integration_update(integration=integration, user=user, **changes)
        )
        if saved is not None:
            messages.success(request, "Saved.")
            return redirect("integrations:detail", pk=integration.pk)
        integration.refresh_from_db()
    context = _detail_context(request, integration, form)
    return render(request, "integrations/detail.html", context, status=400)


@team_role_required(Role.VIEWER)
def integration_deliveries(request: TeamHttpRequest, pk: int) -> HttpResponse:
    integration = _integration_for(request, pk)
    return render(request, "integrations/_deliveries.html", _deliveries_context(integration))


@require_POST
@team_role_required(Role.ANALYST)
def integration_test(request: TeamHttpRequest, pk: int) -> HttpResponse:
    integration = _integration_for(request, pk)
    delivery = services.integration_test(integration=integration, user=user_of(request))
    if is_htmx(request):
        return render(request, "integrations/_deliveries.html", _deliveries_context(integration))
    messages.info(request, f"Test message queued (delivery #{delivery.pk}).")
    return redirect("integrations:detail", pk=integration.pk)


@require_POST
@team_role_required(Role.ANALYST)
def integration_delete(request: TeamHttpRequest, pk: int) -> HttpResponse:
    integration = _integration_for(request, pk)
    name = integration.name
    services.integration_delete(integration=integration, user=user_of(request))
    messages.success(request, f"Deleted “{name}”.")
    return redirect("integrations:list")


# --- notification rules --------------------------------------------------------------------------


def _rules_response(
    request: HttpRequest, form: RuleForm | None = None, status: int = 200
) -> HttpResponse:
    if is_htmx(request):
        return render(
            request, "integrations/_rules.html", _list_context(request, form), status=status
        )
    return redirect(reverse("integrations:list") + "#rules")


@require_POST
@team_role_required(Role.ANALYST)
def rule_add(request: TeamHttpRequest) -> HttpResponse:
    form = RuleForm(request.POST, team=team_of(request))
    if form.is_valid():
        data = form.cleaned_data
        rule = form_saved(form, lambda: services.rule_create(
            team=team_of(request), user=user_of(request), event=data["event"],
            integration_id=data["integration"].pk, min_severity=data["min_severity"],
            days=data.get("days") or 30, technology=data.get("technology") or "",
        ))  # fmt: skip
        if rule is not None:
            return _rules_response(request)
    if not is_htmx(request):
        return render(request, "integrations/list.html", _list_context(request, form), status=400)
    return _rules_response(request, form, status=400)


def _rule_for(request: HttpRequest, pk: int) -> NotificationRule:
    return get_object_or_404(
        NotificationRule.objects.select_related("team", "integration"),
        pk=pk,
        team=team_of(request),
    )


@require_POST
@team_role_required(Role.ANALYST)
def rule_toggle(request: TeamHttpRequest, pk: int) -> HttpResponse:
    rule = _rule_for(request, pk)
    services.rule_update(rule=rule, user=user_of(request), is_enabled=not rule.is_enabled)
    return _rules_response(request)


@require_POST
@team_role_required(Role.ANALYST)
def rule_delete(request: TeamHttpRequest, pk: int) -> HttpResponse:
    services.rule_delete(rule=_rule_for(request, pk), user=user_of(request))
    return _rules_response(request)


# --- a scan's findings, on demand ----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@team_role_required(Role.ANALYST)
def scan_notify(request: TeamHttpRequest, scan_pk: int) -> HttpResponse:
    scan = get_object_or_404(Scan.objects.select_related("team"), pk=scan_pk, team=team_of(request))
    form = NotifyForm(request.POST or None, team=team_of(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        delivery = form_saved(form, lambda: notify.scan_notify(
            scan=scan, integration_id=data["integration"].pk, user=user_of(request),
            min_severity=data["min_severity"], only_new=data["only_new"],
        ))  # fmt: skip
        if delivery is not None:
            messages.success(
                request,
                f"Scan #{scan.pk} queued for “{delivery.integration.name}” (delivery #{delivery.pk}).",
            )
            return redirect("integrations:detail", pk=delivery.integration_id)
    context = {"scan": scan, "form": form}
    return render(request, "integrations/notify.html", context, status=400 if form.errors else 200)
