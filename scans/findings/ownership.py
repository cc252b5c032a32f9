"""Who owns fixing a finding, and by when.

A finding (its fingerprint, like its status) can be assigned to a member of the team
(`finding_assign`); the assignee is told through `findings_assigned` (integrations e-mails
them). Its due date is when it was first seen plus the team's SLA days for its severity
(accounts.models.Team.sla_days, default 7/30/90/180 days for critical/high/medium/low; info
findings have none). The date is computed, never stored: changing the SLA applies at once and
costs no row an update. Only open findings are overdue or due soon: accepted, false-positive and
fixed ones have nothing left to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Membership, Team, User
from config.bulkwrite import chunks
from scans.engine.runtime import SEVERITY_RANK
from scans.findings.states import states_locked
from scans.models import Finding, FindingEvent, FindingState
from scans.signals import findings_assigned

DUE_SOON_DAYS = 7


def sla_due_at(*, first_seen_at: datetime, severity: str, sla_days: dict[str, int]) -> Any:
    """When a finding of this severity first seen then must be fixed (None: no deadline)."""
    days = sla_days.get(severity)
    return first_seen_at + timedelta(days=days) if days else None


def sla_state(*, due_at: datetime | None, status: str, now: datetime) -> str:
    """ "overdue", "due_soon" (within DUE_SOON_DAYS) or "" (not open, no deadline, or later)."""
    if due_at is None or status != Finding.Status.OPEN:
        return ""
    if due_at <= now:
        return "overdue"
    if due_at <= now + timedelta(days=DUE_SOON_DAYS):
        return "due_soon"
    return ""


def sla_q(*, sla_days: dict[str, int], which: str, now: datetime) -> Q:
    """Open findings that are `overdue` or `due_soon`, as a filter on first-seen time by severity
    (the list's severity_rank indexes narrow each branch)."""
    branches = Q(pk__in=[])
    for severity, days in sla_days.items():
        deadline = now - timedelta(days=days)  # first seen before this: overdue now
        if which == "overdue":
            seen = Q(first_seen_at__lte=deadline)
        else:
            seen = Q(first_seen_at__gt=deadline) & Q(
                first_seen_at__lte=deadline + timedelta(days=DUE_SOON_DAYS)
            )
        branches |= Q(severity_rank=SEVERITY_RANK[severity]) & seen
    return Q(status=Finding.Status.OPEN) & branches


def findings_decorate(team: Team, findings: Iterable[Finding]) -> list[Finding]:
    """Give each finding its triage state's owner and deadline for display, in one query:
    `assignee` (a User or None), `due_at`, `sla_state`, `acceptance`, `accepted_until` and
    `accept_reason` (pages, API, exports)."""
    items = list(findings)  # a page's queryset: evaluated once, its objects decorated
    fps = sorted({f.fingerprint for f in items})
    states: dict[str, FindingState] = {}
    for chunk in chunks(fps):
        for state in (
            FindingState.objects.filter(team=team, fingerprint__in=chunk)
            .select_related("assignee")
            .only(
                "fingerprint", "assignee__id", "assignee__email", "assignee__display_name",
                "acceptance", "accepted_until", "accept_reason",
            )
        ):  # fmt: skip
            states[state.fingerprint] = state
    sla = team.sla_days
    now = timezone.now()
    for finding in items:
        found = states.get(finding.fingerprint)
        # A demo finding (scans.findings.demo) has no deadline: no SLA clock runs for it.
        due = (
            None
            if finding.is_demo
            else sla_due_at(
                first_seen_at=finding.first_seen_at, severity=finding.severity, sla_days=sla
            )
        )
        finding.assignee = found.assignee if found else None  # type: ignore[attr-defined]
        finding.due_at = due  # type: ignore[attr-defined]
        finding.sla_state = sla_state(due_at=due, status=finding.status, now=now)  # type: ignore[attr-defined]
        finding.acceptance = found.acceptance if found else ""  # type: ignore[attr-defined]
        finding.accepted_until = found.accepted_until if found else None  # type: ignore[attr-defined]
        finding.accept_reason = found.accept_reason if found else ""  # type: ignore[attr-defined]
    return items


def team_members(team: Team) -> list[User]:
    """Who findings can be assigned to: the team's members, by e-mail."""
    return list(User.objects.filter(memberships__team=team, is_active=True).order_by("email"))


def finding_assign(
    *, team: Team, fingerprints: Iterable[str], assignee: User | None, user: User | None
) -> int:
    """Assign these findings (every occurrence, and future ones) to `assignee`, a member of the
    team, or unassign them (None); returns how many changed. The assignee hears of it when
    someone else assigned them."""
    if assignee is not None and not Membership.objects.filter(team=team, user=assignee).exists():
        raise ValueError(f"{assignee.email} is not a member of {team.name}.")
    now = timezone.now()
    changed: list[str] = []
    with transaction.atomic():
        for states in states_locked(team=team, fingerprints=fingerprints):
            touched = [s for s in states if s.assignee_id != (assignee.pk if assignee else None)]
            for state in touched:
                state.assignee, state.assigned_at = assignee, now if assignee else None
            FindingState.objects.bulk_update(touched, ["assignee", "assigned_at"])
            FindingEvent.objects.bulk_create(
                [
                    FindingEvent(
                        team=team, fingerprint=s.fingerprint, kind=FindingEvent.Kind.ASSIGNED,
                        from_status=s.status, to_status=s.status, user=user, created_at=now,
                        comment=f"Assigned to {assignee.email}." if assignee else "Unassigned.",
                    )
                    for s in touched
                ]
            )  # fmt: skip
            changed += [s.fingerprint for s in touched]
        if changed:
            audit_record(
                "findings.assigned",
                user=user,
                team=team,
                detail={"findings": len(changed), "assignee": assignee.email if assignee else None},
            )
        if changed and assignee is not None and assignee != user:
            transaction.on_commit(
                lambda: findings_assigned.send(
                    sender=None, team_id=team.pk, fingerprints=changed, assignee_id=assignee.pk,
                    user_id=user.pk if user else None,
                )
            )  # fmt: skip
    return len(changed)
