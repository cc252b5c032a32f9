from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.http import user_of
from scans.models import Artifact, Asset, Finding, Scan, ScanLog, ScanStep
from scans.services import ScanRateLimited, ScanRefused, scan_cancel, scan_start


class RecordAdmin(admin.ModelAdmin):
    """Scans, steps, logs, findings, assets and artifacts are records of what ran: the admin
    shows them and lets a superuser delete them, but never adds or edits one (a finding or a
    scan made by hand would be a fabricated record; scans start through `scan_start`, which the
    pages, the API and the "run again" action call)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))


class ScanStepInline(admin.TabularInline):
    model = ScanStep
    extra = 0
    can_delete = False
    fields = [
        "node_id",
        "node_type",
        "status",
        "attempt",
        "executor",
        "exit_code",
        "started_at",
        "finished_at",
        "error",
    ]
    readonly_fields = list(fields)  # type: ignore[arg-type]
    show_change_link = True


@admin.register(Scan)
class ScanAdmin(RecordAdmin):
    list_display = [
        "id",
        "team",
        "workflow_name",
        "source",
        "mode",
        "status",
        "findings_count",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "mode", "source", "created_at"]
    search_fields = ["workflow_name", "team__name", "requested_by__email", "id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["team", "workflow", "requested_by", "targets"]
    readonly_fields = [
        "graph",
        "plan",
        "target_snapshot",
        "severity_counts",
        "cancel_requested_at",
        "started_at",
        "finished_at",
    ]
    inlines = [ScanStepInline]
    actions = ["cancel_scans", "rerun_scans"]

    @admin.action(description="Cancel selected scans")
    def cancel_scans(self, request: HttpRequest, queryset: QuerySet[Scan]) -> None:
        from rest_framework.exceptions import APIException

        done = 0
        for scan in queryset:
            try:
                scan_cancel(scan=scan, user=user_of(request))
                done += 1
            except APIException:
                continue
        self.message_user(request, f"{done} scan(s) cancelled.", messages.INFO)

    @admin.action(
        description="Run selected scans again (same workflow and targets; you confirm the authorization)"
    )
    def rerun_scans(self, request: HttpRequest, queryset: QuerySet[Scan]) -> None:
        """Operators start scans through the same service as the page and the API: scope,
        consent (given by the operator choosing this action) and the graph are checked again."""

        for scan in queryset.select_related("workflow", "team"):
            target_ids = list(scan.targets.values_list("pk", flat=True))
            if scan.workflow is None or not target_ids:
                self.message_user(
                    request,
                    f"Scan #{scan.pk}: no workflow or targets to run again.",
                    messages.WARNING,
                )
                continue
            try:
                new = scan_start(
                    team=scan.team, user=user_of(request), workflow=scan.workflow,
                    target_ids=target_ids, consent=True, request=request,
                )  # fmt: skip
            except ScanRateLimited as exc:
                self.message_user(request, f"Scan #{scan.pk}: {exc.detail}", messages.ERROR)
                break
            except ScanRefused as exc:
                self.message_user(
                    request, f"Scan #{scan.pk} refused: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                self.message_user(
                    request, f"Scan #{scan.pk} started again as #{new.pk}.", messages.SUCCESS
                )


@admin.register(ScanStep)
class ScanStepAdmin(RecordAdmin):
    list_display = [
        "id",
        "scan",
        "node_id",
        "node_type",
        "status",
        "attempt",
        "executor",
        "exit_code",
        "heartbeat_at",
        "finished_at",
    ]
    list_filter = ["status", "node_type", "executor"]
    search_fields = ["node_id", "scan__id", "error"]
    raw_id_fields = ["scan"]


@admin.register(ScanLog)
class ScanLogAdmin(RecordAdmin):
    list_display = ["created_at", "scan", "step", "level", "message"]
    list_filter = ["level", "created_at"]
    search_fields = ["message"]
    raw_id_fields = ["scan", "step"]


@admin.register(Finding)
class FindingAdmin(RecordAdmin):
    list_display = [
        "id",
        "severity",
        "title",
        "tool",
        "rule_id",
        "cvss_score",
        "is_kev",
        "has_fix",
        "location",
        "status",
        "team",
        "scan",
        "last_seen_at",
    ]
    list_filter = ["severity", "status", "tool", "is_kev", "has_fix", "first_seen_at"]
    search_fields = ["title", "rule_id", "location", "component", "fingerprint"]
    raw_id_fields = ["team", "scan", "step"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("team", "scan")


@admin.register(Asset)
class AssetAdmin(RecordAdmin):
    """The inventory is written by scans (scans.assets.recording); operators look, or delete."""

    list_display = [
        "kind", "value", "team", "in_scope", "open_findings", "first_seen_at", "last_seen_at",
        "gone_at",
    ]  # fmt: skip
    list_filter = ["kind", "in_scope", "last_seen_at"]
    search_fields = ["value"]
    raw_id_fields = ["team", "parent", "certificate", "first_scan", "last_scan"]
    readonly_fields = ["first_seen_at", "last_seen_at", "first_scan", "last_scan", "gone_at"]


@admin.register(Artifact)
class ArtifactAdmin(RecordAdmin):
    list_display = ["name", "scan", "step", "size", "sha256", "created_at", "expires_at"]
    search_fields = ["name", "sha256"]
    raw_id_fields = ["scan", "step"]
