"""The workflow's report node (the seed's "Report Export"): when it runs, the worker renders the
scan's PDF report as it stands (the findings that reached this point of the scan and every one
stored before) and hands on what it received, so the alert nodes after it send the report with
their message: attached to e-mails, linked in Slack, Discord and webhook messages
(`report_url`, `report_id`).

The PDF is rendered in the step (no task waits for another) by the same code as the report
page (scans.reports.pdf), into the artifact storage, and listed on the scan's report panel.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from integrations.messages import public_url
from scans.engine.runtime import Command, StepContext, StepFailed, StepResult
from scans.models import Report, Scan
from scans.reports.pdf import report_render
from targets.items import ITEM_KINDS, Item
from workflows.nodes.base import NodeType

CONFIG_FIELDS: list[dict[str, Any]] = []
ACCEPTS = set(ITEM_KINDS)
EMITS = set(ITEM_KINDS)

NODE = NodeType(
    type="report",
    label="PDF report",
    group="Report",
    icon="file",
    help="Render the scan's PDF when this node runs; alerts after it attach or link it.",
    order=10,
    passthrough=True,
    consumes_findings=True,
)


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    return [Command(argv=["report:pdf"])]


def run(ctx: StepContext) -> StepResult:
    scan = Scan.objects.get(pk=ctx.scan_id)
    report = Report.objects.create(team_id=scan.team_id, scan=scan, requested_by=None)
    outcome = report_render(report.pk)
    report.refresh_from_db()
    if report.status != Report.Status.READY:
        raise StepFailed(f"the PDF report could not be made: {report.error or outcome}")
    ctx.log(f"report #{report.pk}: {report.pages} page(s), {report.size} bytes")
    return StepResult(items=list(ctx.items), findings=list(ctx.findings))


def report_for_alert(scan: Scan, node_id: str) -> Report | None:
    """The report an alert node sends: the newest ready report of the scan when a report node
    comes before the alert node in the scan's graph (else none)."""
    graph = scan.graph or {}
    types = {n.get("id"): n.get("type") for n in graph.get("nodes", [])}
    parents: dict[str, list[str]] = {}
    for edge in graph.get("edges", []):
        parents.setdefault(edge.get("to"), []).append(edge.get("from"))
    seen: set[str] = set()
    todo = list(parents.get(node_id, []))
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if types.get(current) == NODE.type:
            return (
                Report.objects.filter(scan=scan, status=Report.Status.READY)
                .order_by("-finished_at", "-pk")
                .first()
            )
        todo.extend(parents.get(current, []))
    return None


def report_link(scan: Scan) -> str:
    return public_url(reverse("scans:report_pdf", args=[scan.pk]))
