from __future__ import annotations

from typing import cast

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from accounts.models import (
    ApiKey,
    AuditEvent,
    Invitation,
    KeyResetToken,
    Membership,
    Team,
    User,
)
from accounts.services import api_key_revoke


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "team"
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "invited_by"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "display_name"]
    fieldsets = (
        (None, {"fields": ("email", "password", "display_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "personal_owner", "created_at"]
    search_fields = ["name", "personal_owner__email"]
    list_filter = ["created_at"]
    inlines = [MembershipInline]
    raw_id_fields = ["personal_owner"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at", "invited_by"]
    list_filter = ["role"]
    search_fields = ["user__email", "team__name"]
    raw_id_fields = ["user", "team", "invited_by"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created by their users (the full key is shown to them once); operators see
    metadata and can revoke, never the key."""

    list_display = [
        "prefix",
        "name",
        "user",
        "team",
        "role",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["role", "revoked_at", "created_at"]
    search_fields = ["prefix", "name", "user__email", "team__name"]
    readonly_fields = ["prefix", "key_hash", "user", "team", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: object) -> None:
        # The staff member revokes (and is recorded as the actor), not the key's holder.
        staff = cast(User, request.user)
        for api_key in queryset:  # type: ignore[attr-defined]
            api_key_revoke(api_key=api_key, actor=staff, as_operator=True)


@admin.register(KeyResetToken)
class KeyResetTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "expires_at", "used_at"]
    list_filter = ["used_at", "created_at"]
    search_fields = ["user__email"]
    readonly_fields = ["user", "token_hash", "created_at", "expires_at", "used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "team",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
    ]
    list_filter = ["role", "accepted_at"]
    search_fields = ["email", "team__name"]
    readonly_fields = ["token_hash", "created_at", "accepted_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "outcome",
        "status_code",
        "user_email",
        "team",
        "method",
        "path",
        "duration_ms",
        "client_ip",
        "request_id",
    ]
    list_filter = ["outcome", "action", "status_code", "created_at"]
    search_fields = ["request_id", "user_email", "path", "action"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
