"""What to send when: notification rules on a finished scan, a scan's findings on demand, and the
workflow alert nodes. Each produces Deliveries; workers send them (integrations.delivery)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import structlog
from django.core.exceptions import ValidationError

from accounts.audit import audit_record
from accounts.models import Team, User
from integrations.asset_rules import asset_rule_lines, message_for_assets
from integrations.delivery import delivery_create
from integrations.messages import (
    message_for_scan,
    message_for_schedule_failure,
    scan_findings_worst_first,
)
from integrations.models import (
    ASSET_RULE_EVENTS,
    Delivery,
    DeliveryEvent,
    Integration,
    NotificationRule,
    RuleEvent,
)
from scans.engine.runtime import SEVERITY_RANK
from scans.findings.diff import scan_previous
from scans.models import Finding, Scan, ScanStatus

log = structlog.get_logger(__name__)


def scan_new_fingerprints(scan: Scan) -> set[str]:
    """Fingerprints of this scan that the previous scan of the same workflow and targets did not
    have (all of them for a first scan)."""

    current = set(Finding.objects.filter(scan=scan).values_list("fingerprint", flat=True))
    previous = scan_previous(scan)
    if previous is None:
        return current
    before = set(Finding.objects.filter(scan=previous).values_list("fingerprint", flat=True))
    return current - before


def on_scan_finished(sender: Any = None, *, scan_id: int, **kwargs: Any) -> None:
    """`scan_finished` receiver: queue the rule evaluation when the team has rules. It runs in
    whatever process ended the scan (a worker, or the web process for an import), so it only
    enqueues; a failure here must never disturb the scan."""
    from django_q.tasks import async_task

    try:
        team_id = Scan.objects.filter(pk=scan_id).values_list("team_id", flat=True).first()
        if team_id and NotificationRule.objects.filter(team_id=team_id, is_enabled=True).exists():
            async_task(
                "integrations.tasks.rules_evaluate", scan_id, task_name=f"rules-scan-{scan_id}"
            )
    except Exception:
        log.exception("notify.enqueue_failed", scan_id=scan_id)


def _min_rank(rules: list[NotificationRule]) -> int:
    return min(SEVERITY_RANK.get(rule.min_severity, 0) for rule in rules)


def rules_evaluate(scan_id: int) -> str:
    """Apply the team's enabled rules to a finished scan: at most one message per integration
    about findings (new findings when a new-finding rule matched, else the completed/failed
    summary), and one about the inventory when its rules matched (integrations.asset_rules)."""
    scan = Scan.objects.select_related("team").filter(pk=scan_id).first()
    if scan is None:
        return "scan gone"
    if scan.mode == Scan.Mode.DRY_RUN:
        return "dry run: no notifications"
    if scan.mode == Scan.Mode.DEMO:
        return "demo: no notifications"
    events = {
        ScanStatus.COMPLETED.value: [RuleEvent.SCAN_COMPLETED, RuleEvent.NEW_FINDING],
        ScanStatus.FAILED.value: [RuleEvent.SCAN_FAILED, RuleEvent.NEW_FINDING],
    }.get(scan.status, [])
    if events:
        # What a scan saw is true even when a later step failed.
        events = [*events, *ASSET_RULE_EVENTS]
    rules = list(
        NotificationRule.objects.filter(
            team=scan.team, is_enabled=True, integration__is_enabled=True, event__in=events
        ).select_related("integration")
    )
    if not rules:
        return "no rules apply"
    by_integration: dict[int, list[NotificationRule]] = defaultdict(list)
    for rule in rules:
        by_integration[rule.integration_id].append(rule)
    new = (
        scan_new_fingerprints(scan)
        if any(r.event == RuleEvent.NEW_FINDING for r in rules)
        else set()
    )
    open_new = [f for f in scan_findings_worst_first(scan) if f.fingerprint in new]
    sent = 0
    for all_rules in by_integration.values():
        integration = all_rules[0].integration
        asset_rules = [r for r in all_rules if r.event in ASSET_RULE_EVENTS]
        lines = asset_rule_lines(scan, asset_rules) if asset_rules else []
        if lines:
            created = delivery_create(
                integration=integration, message=message_for_assets(scan, lines),
                event=DeliveryEvent.ASSET_CHANGES, scan=scan,
                dedup_key=f"rules:scan-{scan.pk}:integration-{integration.pk}:assets",
            )  # fmt: skip
            sent += created is not None
        integration_rules = [r for r in all_rules if r.event not in ASSET_RULE_EVENTS]
        if not integration_rules:
            continue
        finding_rules = [r for r in integration_rules if r.event == RuleEvent.NEW_FINDING]
        chosen = (
            [f for f in open_new if SEVERITY_RANK.get(f.severity, 0) >= _min_rank(finding_rules)]
            if finding_rules
            else []
        )
        if chosen:
            message = message_for_scan(
                scan, event=DeliveryEvent.NEW_FINDING, findings=chosen, new=new
            )
            event = DeliveryEvent.NEW_FINDING
        elif any(r.event != RuleEvent.NEW_FINDING for r in integration_rules):
            event = (
                DeliveryEvent.SCAN_FAILED
                if scan.status == ScanStatus.FAILED
                else DeliveryEvent.SCAN_COMPLETED
            )
            message = message_for_scan(
                scan, event=event, findings=scan_findings_worst_first(scan), new=new or None
            )
        else:
            continue
        created = delivery_create(
            integration=integration, message=message, event=event, scan=scan,
            dedup_key=f"rules:scan-{scan.pk}:integration-{integration.pk}",
        )  # fmt: skip
        sent += created is not None
    return f"{sent} message(s) queued"


def _team_integration(team: Team, integration_id: Any, *, kind: str | None = None) -> Integration:
    integration = Integration.objects.filter(team=team, pk=integration_id).first()
    if integration is None:
        raise ValidationError({"integration": ["Unknown integration."]})
    if kind and integration.kind != kind:
        raise ValidationError(
            {"integration": [f"Integration #{integration.pk} is {integration.kind}, not {kind}."]}
        )
    if not integration.is_enabled:
        raise ValidationError({"integration": [f"Integration #{integration.pk} is disabled."]})
    return integration


def scan_notify(
    *,
    scan: Scan,
    integration_id: Any,
    user: User | None,
    min_severity: str = "info",
    only_new: bool = False,
    kind: str | None = None,
) -> Delivery:
    """Send a scan's open findings (at or above `min_severity`, optionally only the new ones) to
    one of its team's integrations now (`POST /api/v1/scans/{id}/notify`, the scan page). A demo
    scan's findings are synthetic: they never go to a real channel."""
    if scan.mode == Scan.Mode.DEMO:
        raise ValidationError(
            {"scan": ["A demo scan's findings are made up for the demo: they are never sent."]}
        )
    integration = _team_integration(scan.team, integration_id, kind=kind)
    new = scan_new_fingerprints(scan)
    findings = scan_findings_worst_first(scan, min_severity=min_severity)
    if only_new:
        findings = [f for f in findings if f.fingerprint in new]
    message = message_for_scan(scan, event=DeliveryEvent.MANUAL, findings=findings, new=new)
    delivery = delivery_create(
        integration=integration, message=message, event=DeliveryEvent.MANUAL, scan=scan, user=user
    )
    assert delivery is not None
    audit_record(
        "integration.notify",
        user=user,
        team=scan.team,
        detail={"scan_id": scan.pk, "integration_id": integration.pk, "delivery_id": delivery.pk},
    )
    return delivery


def schedule_failure_notify(*, team: Team, schedule_name: str, error: str) -> int:
    """Tell the integrations with an enabled scan-failed rule that a scheduled scan could not
    start (its targets left scope, its creator lost access…)."""
    rules = NotificationRule.objects.filter(
        team=team, is_enabled=True, integration__is_enabled=True, event=RuleEvent.SCAN_FAILED
    ).select_related("integration")
    message = message_for_schedule_failure(
        schedule_name=schedule_name, team_name=team.name, error=error
    )
    count = 0
    for rule in rules:
        delivery_create(
            integration=rule.integration, message=message, event=DeliveryEvent.SCHEDULE_FAILED
        )
        count += 1
    return count
