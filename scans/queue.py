"""The operators' queue page (`/admin/queue/`, staff only): what django-q2 holds and who works
on it, with the scan each task belongs to. Queued tasks (read from the broker without taking
them: the ORM broker's rows, or a Redis list read with LRANGE), the latest failed tasks, the
clusters and their workers, and the steps the engine has queued or running (the engine's own
view: a step can wait for its `not_before` without any task in the broker)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_q.brokers import get_broker
from django_q.models import Failure, OrmQ
from django_q.signing import SignedPackage
from django_q.status import Stat

from scans.models import Report, ScanStep, StepStatus

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
