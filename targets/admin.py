from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.http import user_of
from targets import services
from targets.models import EXPIRING_SOON, Target, TargetKind
from targets.parsing import TargetParseError, parse_target


class ExpiryFilter(admin.SimpleListFilter):
    title = "authorization"
    parameter_name = "authorization"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("open", "No end date"),
            ("expiring", "Expires within 7 days"),
            ("expired", "Expired"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Target]) -> QuerySet[Target]:
        now = timezone.now()
        if self.value() == "open":
            return queryset.filter(expires_at__isnull=True)
        if self.value() == "expiring":
            return queryset.filter(expires_at__gt=now, expires_at__lte=now + EXPIRING_SOON)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


class TargetAdminForm(forms.ModelForm):
    """Parses and de-duplicates like the pages and the API (the save goes through services)."""

    kind = forms.ChoiceField(
        choices=[("", "Detect automatically"), *TargetKind.choices], required=False
    )

    class Meta:
        model = Target
        fields = ["team", "value", "kind", "excluded", "expires_at", "note"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        value = data.get("value")
        team = data.get("team") or (self.instance.team if self.instance.pk else None)
        if value is None or team is None:
            return data
        try:
            parsed = parse_target(value, data.get("kind") or None)
        except TargetParseError as exc:
            self.add_error("value", str(exc))
            return data
        data["kind"], data["value"] = parsed.kind, parsed.value
        existing = services.target_duplicate(
            team, parsed.kind, parsed.value, exclude_pk=self.instance.pk
        )
        if existing is not None:
            self.add_error("value", f"Already in this team's scope as #{existing.pk}.")
        expiry = services.expiry_problem(
            data.get("expires_at"), bool(data.get("excluded")), timezone.now()
        )
        if expiry and (
            self.instance.pk is None
            or "expires_at" in self.changed_data
            or "excluded" in self.changed_data
        ):
            self.add_error("expires_at", expiry)
        note = services.note_problem(data.get("note", ""))
        if note:
            self.add_error("note", note)
        return data

    def validate_unique(self) -> None:
        """clean() has checked duplicates on the normalized value."""

    def _post_clean(self) -> None:
        # Model-level constraint validation would compare the raw value; services decide.
        pass


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    form = TargetAdminForm
    list_display = [
        "value",
        "kind",
        "team",
        "excluded",
        "authorized_by",
        "authorized_at",
        "expires_at",
    ]
    list_filter = ["kind", "excluded", ExpiryFilter, "authorized_at"]
    search_fields = ["value", "raw_value", "note", "team__name", "authorized_by__email"]
    raw_id_fields = ["team"]
    readonly_fields = ["raw_value", "authorized_by", "authorized_at", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    list_select_related = ["team", "authorized_by"]

    def get_fields(self, request: HttpRequest, obj: Target | None = None) -> tuple[str, ...]:
        return ("team", "value", "kind", "excluded", "expires_at", "note", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Target | None = None) -> list[str]:
        # A target moves between teams only by deleting it here and authorizing it there.
        return [*self.readonly_fields, "team"] if obj is not None else list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Target, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            if change:
                stored = Target.objects.get(pk=obj.pk)
                services.target_update(
                    target=stored, user=user_of(request), value=data["value"], kind=data["kind"],
                    note=data.get("note", ""), expires_at=data.get("expires_at"), excluded=data.get("excluded", False),
                )  # fmt: skip
                created = stored
            else:
                created = services.target_create(
                    team=data["team"], user=user_of(request), value=data["value"], kind=data["kind"],
                    note=data.get("note", ""), expires_at=data.get("expires_at"), excluded=data.get("excluded", False),
                )  # fmt: skip
            for field in Target._meta.concrete_fields:
                setattr(obj, field.attname, getattr(created, field.attname))
        except ValidationError as exc:
            # Rare (expiry in the past): say it, do not crash the admin.
            self.message_user(request, " ".join(exc.messages), level="error")

    def delete_model(self, request: HttpRequest, obj: Target) -> None:
        services.target_delete(target=obj, user=user_of(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Target]) -> None:
        for target in queryset.select_related("team"):
            services.target_delete(target=target, user=user_of(request))
