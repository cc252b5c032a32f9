"""Workflows in the admin: search, filters and a readable graph. Graphs are edited in the
builder or through the API (where they are validated node by node); here operators create a
workflow from a template, rename it, duplicate or delete it, through the same services."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from accounts.models import User
from workflows import services
from workflows.models import Workflow
from workflows.templates import TEMPLATES


class WorkflowAdminForm(forms.ModelForm):
    template = forms.ChoiceField(
        required=False,
        choices=[("", "Blank (empty graph)"), *((t.key, t.name) for t in TEMPLATES.values())],
        help_text="The graph a new workflow starts with.",
    )

    class Meta:
        model = Workflow
        fields = ["team", "name", "description"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            if data.get("name") is not None:
                data["name"] = services.workflow_name_clean(data["name"])
        except services.WorkflowInvalid as exc:
            self.add_error("name", exc.fields["name"])
        return data


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    form = WorkflowAdminForm
    list_display = ["name", "team", "node_count", "revision", "updated_at", "updated_by"]
    list_filter = ["updated_at", "created_at"]
    search_fields = ["name", "description", "team__name", "created_by__email"]
    list_select_related = ["team", "updated_by"]
    raw_id_fields = ["team"]
    readonly_fields = [
        "revision",
        "graph_pretty",
        "created_by",
        "updated_by",
        "created_at",
        "updated_at",
    ]
    actions = ["duplicate"]

    def get_fields(self, request: HttpRequest, obj: Workflow | None = None) -> Any:
        if obj is None:
            return ["team", "name", "description", "template"]
        return ["team", "name", "description", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Workflow | None = None) -> list[str]:
        # A workflow never moves to another team: its scans and findings stay where they are.
        return [*self.readonly_fields, "team"] if obj is not None else []

    @admin.display(description="Graph")
    def graph_pretty(self, obj: Workflow) -> str:
        return format_html(
            '<pre class="readonly">{}</pre>', json.dumps(obj.graph, indent=2, ensure_ascii=False)
        )

    def save_model(
        self, request: HttpRequest, obj: Workflow, form: forms.ModelForm, change: bool
    ) -> None:
        user = cast(User, request.user)
        if not change:
            template = form.cleaned_data.get("template")
            if template:
                created = services.workflow_create_from_template(
                    team=obj.team,
                    user=user,
                    template_key=template,
                    name=obj.name,
                )
            else:
                created = services.workflow_create(
                    team=obj.team,
                    user=user,
                    name=obj.name,
                    description=obj.description,
                )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        loaded = Workflow.objects.get(pk=obj.pk)
        try:
            services.workflow_update(
                workflow=loaded,
                user=user,
                revision=loaded.revision,
                name=obj.name,
                description=obj.description,
            )
        except services.StaleRevision:
            messages.error(request, "Someone saved this workflow meanwhile: reload and try again.")

    def delete_model(self, request: HttpRequest, obj: Workflow) -> None:
        services.workflow_delete(workflow=obj, user=cast(User, request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        for workflow in queryset:
            services.workflow_delete(workflow=workflow, user=cast(User, request.user))

    @admin.action(description="Duplicate selected workflows")
    def duplicate(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        for workflow in queryset:
            services.workflow_duplicate(workflow=workflow, user=cast(User, request.user))
        messages.success(request, f"{queryset.count()} workflow(s) duplicated.")
