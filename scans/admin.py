from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_q.brokers import get_broker
from django_q.models import Failure, OrmQ
from django_q.signing import SignedPackage
from django_q.status import Stat

from accounts.http import user_of
from scans.models import Artifact, Asset, Finding, Report, Scan, ScanLog, ScanStep, StepStatus
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


# What a step's row shows first, in its scan's inline and in the steps' list.
STEP_COLUMNS = ["node_id", "node_type", "status", "attempt", "executor", "exit_code"]


class ScanStepInline(admin.TabularInline):
    model = ScanStep
    extra = 0
    can_delete = False
    fields = [*STEP_COLUMNS, "started_at", "finished_at", "error"]
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
    list_display = ["id", "scan", *STEP_COLUMNS, "heartbeat_at", "finished_at"]
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


# --- The operators' queue page (`/admin/queue/`, staff only): what django-q2 holds and who works
# on it, with the scan each task belongs to. Queued tasks (read from the broker without taking
# them: the ORM broker's rows, or a Redis list read with LRANGE), the latest failed tasks, the
# clusters and their workers, and the steps the engine has queued or running (the engine's own
# view: a step can wait for its `not_before` without any task in the broker).

SHOWN = 100
_SCAN_GROUP = re.compile(r"^scan-(\d+)$")


@dataclass
class TaskRow:
    func: str
    name: str
    group: str
    args: str
    scan_id: int | None
    detail: str = ""
    when: Any = None


def _scan_of(func: str, group: str, args: Any) -> int | None:
    """The scan a task works for: step tasks are grouped `scan-<id>`; a report names its row."""
    match = _SCAN_GROUP.match(group or "")
    if match:
        return int(match.group(1))
    first = args[0] if isinstance(args, list | tuple) and args else None
    if not isinstance(first, int):
        return None
    if func.endswith("step_run"):
        return ScanStep.objects.filter(pk=first).values_list("scan_id", flat=True).first()
    if func.endswith("report_render"):
        return Report.objects.filter(pk=first).values_list("scan_id", flat=True).first()
    return None


def _row(task: dict[str, Any], **extra: Any) -> TaskRow:
    func = str(task.get("func") or "")
    group = str(task.get("group") or "")
    args = task.get("args") or ()
    return TaskRow(
        func=func, name=str(task.get("name") or ""), group=group, args=repr(tuple(args))[:120],
        scan_id=_scan_of(func, group, args), **extra,
    )  # fmt: skip


def queued_tasks() -> tuple[str, int | None, list[TaskRow]]:
    """(broker kind, queue size, the first queued tasks) without dequeuing anything."""
    broker = get_broker()
    kind = type(broker).__name__.lower()
    try:
        size = int(broker.queue_size() or 0)
    except Exception:  # the broker is down: the page still shows the rest
        return kind, None, []
    rows: list[TaskRow] = []
    if kind == "orm":
        for entry in OrmQ.objects.filter(key=broker.list_key).order_by("pk")[:SHOWN]:
            rows.append(_row(entry.task, when=entry.lock))
    elif kind == "redis":
        for payload in broker.connection.lrange(broker.list_key, 0, SHOWN - 1):
            try:
                rows.append(_row(SignedPackage.loads(payload)))
            except Exception:
                rows.append(TaskRow("(unreadable)", "", "", "", None))
    return kind, size, rows


def failed_tasks() -> list[TaskRow]:
    return [
        _row(
            {"func": f.func, "name": f.name, "group": f.group, "args": f.args},
            detail=str(f.result)[:300],
            when=f.stopped,
        )
        for f in Failure.objects.order_by("-stopped")[:SHOWN]
    ]


def clusters() -> list[dict[str, Any]]:
    try:
        stats = Stat.get_all()
    except Exception:
        return []
    return [
        {"id": s.cluster_id, "host": s.host, "status": s.status, "workers": len(s.workers),
         "task_q": s.task_q_size, "restarts": s.reincarnations, "seen": s.timestamp}
        for s in stats
    ]  # fmt: skip


@staff_member_required
def queue_page(request: HttpRequest) -> HttpResponse:
    kind, size, queued = queued_tasks()
    steps = (
        ScanStep.objects.filter(status__in=[StepStatus.QUEUED, StepStatus.RUNNING])
        .select_related("scan")
        .order_by("queued_at")[:SHOWN]
    )
    context = {
        "title": "Task queue",
        "broker": kind,
        "queue_size": size,
        "queued": queued,
        "failed": failed_tasks(),
        "clusters": clusters(),
        "steps": steps,
    }
    return render(request, "admin/queue.html", context)
