"""Admin: integrations are shown masked and changed through the services (the URL and secrets
can only be replaced, never read); deliveries are read-only; schedules pause and resume."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.http import user_of
from integrations import services
from integrations.models import (
    Delivery,
    Integration,
    IntegrationKind,
    NotificationRule,
    ScanSchedule,
)
from integrations.schedules import services as schedules


class IntegrationAdminForm(forms.ModelForm):
    webhook_url = forms.CharField(
        required=False, label="New webhook URL", widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored one (it is never shown).",
    )  # fmt: skip
    signing_secret = forms.CharField(
        required=False, label="New signing secret", widget=forms.PasswordInput(render_value=False),
        help_text="Webhooks only. Leave empty to keep the stored one.",
    )  # fmt: skip

    class Meta:
        model = Integration
        fields = ["name", "is_enabled"]


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationAdminForm
    list_display = ["id", "name", "kind", "team", "destination", "is_enabled", "created_at"]
    list_filter = ["kind", "is_enabled"]
    search_fields = ["name", "team__name"]
    readonly_fields = ["team", "kind", "destination", "created_by", "created_at", "updated_at"]
    fields = ["team", "kind", "name", "destination", "is_enabled", "webhook_url", "signing_secret",
              "created_by", "created_at", "updated_at"]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # added from the Integrations page or the API, where the team is known

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        data = form.cleaned_data
        stored = Integration.objects.get(pk=obj.pk)
        changes: dict[str, Any] = {"name": data["name"], "is_enabled": data["is_enabled"]}
        if stored.kind != IntegrationKind.EMAIL:
            changes["webhook_url"] = data.get("webhook_url", "")
        if stored.kind == IntegrationKind.WEBHOOK:
            changes["signing_secret"] = data.get("signing_secret", "")
        services.integration_update(integration=stored, user=user_of(request), **changes)

    def delete_model(self, request: HttpRequest, obj: Integration) -> None:
        services.integration_delete(integration=obj, user=user_of(request))


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "integration",
        "event",
        "status",
        "attempts",
        "response_code",
        "created_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["summary", "integration__name"]
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["id", "team", "event", "min_severity", "integration", "is_enabled"]
    list_filter = ["event", "is_enabled"]
    readonly_fields = ["team", "integration", "event", "created_by", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ScanSchedule)
class ScanScheduleAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "team",
        "workflow",
        "cadence",
        "is_paused",
        "last_run_at",
        "failures_count",
    ]
    list_filter = ["is_paused"]
    search_fields = ["name", "team__name"]
    readonly_fields = [
        "team", "workflow", "targets", "cron", "every_hours", "is_paused", "has_consent",
        "consented_by", "consented_at", "created_by", "created_at", "last_run_at", "last_scan",
        "last_error", "runs_count", "failures_count", "q_schedule",
    ]  # fmt: skip
    actions = ["pause", "resume"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Pause the selected schedules")
    def pause(self, request: HttpRequest, queryset: QuerySet[ScanSchedule]) -> None:
        for schedule in queryset:
            schedules.schedule_pause(schedule=schedule, user=user_of(request))
        messages.info(request, f"Paused {queryset.count()} schedule(s).")

    @admin.action(description="Resume the selected schedules")
    def resume(self, request: HttpRequest, queryset: QuerySet[ScanSchedule]) -> None:
        for schedule in queryset:
            schedules.schedule_resume(schedule=schedule, user=user_of(request))
        messages.info(request, f"Resumed {queryset.count()} schedule(s).")

    def delete_model(self, request: HttpRequest, obj: ScanSchedule) -> None:
        schedules.schedule_delete(schedule=obj, user=user_of(request))
