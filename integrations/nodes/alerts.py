"""The runner of the workflow alert nodes `slack_alert`, `discord_alert`, `webhook` and `email`:
send the findings that reach the node (at or above a severity, optionally only those the
previous scan of the same workflow and targets did not have) to one of the team's integrations.
Without such findings it sends nothing, unless a report node comes before it: then it sends the
report (attached to e-mails, linked elsewhere) with the findings that passed, even none.

The node only queues a Delivery; a worker sends it (no task waits for another), and the
integration's delivery log shows what happened. The integration is checked at run time: it must
belong to the scan's team and be of the node's kind.
"""

from __future__ import annotations

from typing import Any

from integrations.delivery import delivery_create
from integrations.kinds import NODE_KIND
from integrations.messages import message_for_scan
from integrations.models import DeliveryEvent, Integration
from integrations.nodes.report import report_for_alert, report_link
from integrations.notify import scan_new_fingerprints
from scans.engine.runtime import (
    SEVERITIES,
    Command,
    StepContext,
    StepFailed,
    StepResult,
    severity_at_least,
)
from scans.models import Scan
from targets.items import ITEM_KINDS, Item
from workflows.nodes.base import NodeType

CONFIG_FIELDS: list[dict[str, Any]] = [
    {"name": "integration", "type": "int", "min": 1, "max": 2**31 - 1, "required": True,
     "label": "Integration", "options_from": "integrations.nodes.alerts.integration_options",
     "help": "One of the team's integrations of this kind (Integrations page)."},
    {"name": "min_severity", "type": "choice", "choices": list(reversed(SEVERITIES)),
     "default": "info", "help": "Send findings at or above this severity."},
    {"name": "only_new", "type": "bool", "default": True,
     "help": "Only findings the previous scan of this workflow and targets did not have."},
]  # fmt: skip
ACCEPTS = set(ITEM_KINDS)
EMITS: set[str] = set()

NODES = [
    NodeType(
        type="slack_alert",
        label="Slack alert",
        group="Notify",
        icon="bell",
        help="Post the findings that reach this node to a Slack channel (incoming webhook).",
        order=10,
        consumes_findings=True,
    ),
    NodeType(
        type="discord_alert",
        label="Discord alert",
        group="Notify",
        icon="bell",
        help="Post the findings that reach this node to a Discord channel (webhook).",
        order=20,
        consumes_findings=True,
    ),
    NodeType(
        type="webhook",
        label="Webhook",
        group="Notify",
        icon="http",
        help="POST the findings that reach this node as signed JSON to your own endpoint.",
        order=30,
        consumes_findings=True,
    ),
    NodeType(
        type="email",
        label="E-mail",
        group="Notify",
        icon="bell",
        help="E-mail the findings that reach this node to the integration's recipients.",
        order=40,
        consumes_findings=True,
    ),
]


def integration_options(team_id: int, node_type: str) -> list[tuple[int, str]]:
    """The builder's choices for the node's `integration`: the team's integrations of the
    node's kind, by name."""

    kind = NODE_KIND.get(node_type, "")
    rows = Integration.objects.filter(team_id=team_id, kind=kind).order_by("name", "pk")
    return [
        (row.pk, row.name if row.is_enabled else f"{row.name} (disabled)")
        for row in rows.only("pk", "name", "is_enabled")
    ]


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    argv = ["notify:integration", "--integration", str(config.get("integration", "")),
            "--min-severity", str(config.get("min_severity", "info"))]  # fmt: skip
    if config.get("only_new", True):
        argv.append("--only-new")
    return [Command(argv=argv)]


def run(ctx: StepContext) -> StepResult:

    kind = NODE_KIND[ctx.node_type]
    integration_id = int(ctx.config.get("integration") or 0)
    integration = Integration.objects.filter(pk=integration_id, team_id=ctx.team_id).first()
    if integration is None:
        raise StepFailed(f"integration #{integration_id} is not an integration of this team")
    if integration.kind != kind:
        raise StepFailed(
            f"integration #{integration.pk} is a {integration.kind} integration; "
            f"{ctx.node_type} needs a {kind} one"
        )
    if not integration.is_enabled:
        ctx.log(f"integration “{integration.name}” is disabled: nothing sent")
        return StepResult()
    minimum = str(ctx.config.get("min_severity") or "info")
    findings = [f for f in ctx.findings if severity_at_least(f.severity, minimum)]
    scan = Scan.objects.select_related("team").get(pk=ctx.scan_id)
    new = scan_new_fingerprints(scan)
    only_new = bool(ctx.config.get("only_new", True))
    if only_new:
        findings = [f for f in findings if f.fingerprint in new]
    matching = f"{'new ' if only_new else ''}findings at or above {minimum}"
    # A report is worth sending without findings ("no findings, report attached"): after a
    # report node the alert always sends, and its filters only choose the findings it lists.
    report = report_for_alert(scan, ctx.node_id)
    if not findings and report is None:
        ctx.log(f"no {matching}: nothing sent")
        return StepResult()
    message = message_for_scan(
        scan, event=DeliveryEvent.WORKFLOW, findings=findings, new=new, source=ctx.node_id
    )
    if report is not None:
        message.report_url, message.report_id = report_link(scan), report.pk
        if not findings:
            message.title = f"Scan #{scan.pk} ({message.workflow}): no {matching}; PDF report"
    delivery = delivery_create(
        integration=integration, message=message, event=DeliveryEvent.WORKFLOW, scan=scan
    )
    assert delivery is not None
    with_report = f" and report #{report.pk}" if report is not None else ""
    ctx.log(
        f"queued delivery #{delivery.pk} to {integration.kind} “{integration.name}” with "
        f"{len(findings)} finding(s){with_report}"
    )
    return StepResult()
