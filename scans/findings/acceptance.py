"""Risk acceptance: a finding marked `accepted` carries a reason, an expiry date and, for critical
and high findings, the approval of a team owner.

- `finding_accept`: accepts (owners, or anyone for medium and below), or asks an owner to
  (an analyst accepting a critical or high finding: the status stays open meanwhile, the state
  shows "waiting for approval", and the owners are told through `acceptance_requested`).
- `acceptance_decide`: an owner approves (the finding becomes accepted) or refuses a request.
- `acceptances_expire`: the scheduled job (every minute, `scans.tasks.acceptances_expire`)
  reopens accepted findings whose acceptance has ended and drops requests whose date passed;
  `acceptances_expired` tells the integrations, which notify the team and the people concerned.

An accepted or false-positive finding is never counted as open: not on the scan page, the
dashboard, the metrics nor in the PDF.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Role, Team, User
from scans.findings.states import open_findings_refresh_soon, rows_status_set, states_locked
from scans.models import AcceptanceState, Finding, FindingEvent, FindingState
from scans.signals import acceptance_requested, acceptances_expired

COMMENT_MAX = 2000
ACCEPT_MAX_DAYS = 365
# Accepting these needs an owner: the person who accepts, or one who approves the request.
NEEDS_APPROVAL = frozenset({"critical", "high"})
ACCEPTANCE_FIELDS = [
    "acceptance", "accept_reason", "accepted_until", "accept_requested_by",
    "accept_requested_at", "accept_approved_by", "accept_approved_at",
]  # fmt: skip
Status = Finding.Status
CHUNK = 2000


@dataclass(frozen=True)
class TriageResult:
    status: str
    requested: int  # distinct fingerprints asked for
    changed: int  # fingerprints whose status or comment changed
    pending: int = 0  # acceptances waiting for an owner's approval


class AcceptanceRefused(ValueError):
    """The acceptance lacks a reason or a valid expiry; `errors` maps fields to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(next(iter(errors.values())))
        self.errors = errors


def acceptance_clear(state: FindingState) -> None:
    """Forget the state's acceptance (or the request for one)."""
    state.acceptance = AcceptanceState.NONE
    state.accept_reason = ""
    state.accepted_until = None
    state.accept_requested_by = None
    state.accept_requested_at = None
    state.accept_approved_by = None
    state.accept_approved_at = None


def acceptance_check(*, reason: str, until: datetime | None, now: datetime) -> None:
    errors = {}
    if not reason:
        errors["comment"] = "Say why the risk is accepted (the reason is kept with it)."
    if until is None:
        errors["accepted_until"] = "Give the date the acceptance ends."
    elif until <= now:
        errors["accepted_until"] = "The acceptance must end in the future."
    elif until > now + timedelta(days=ACCEPT_MAX_DAYS):
        errors["accepted_until"] = f"An acceptance lasts at most {ACCEPT_MAX_DAYS} days."
    if errors:
        raise AcceptanceRefused(errors)


def finding_accept(
    *,
    team: Team,
    fingerprints: Iterable[str],
    user: User | None,
    reason: str,
    until: datetime | None,
    role: str | None,
) -> TriageResult:
    """Accept the risk of these findings until `until` because of `reason`. Critical and high
    findings accepted by someone who is not an owner become requests for an owner's approval."""
    reason = (reason or "").strip()[:COMMENT_MAX]
    now = timezone.now()
    acceptance_check(reason=reason, until=until, now=now)
    is_owner = role == Role.OWNER
    fps = sorted(set(fingerprints))
    accepted: list[str] = []
    pending: list[str] = []
    label = f"{reason} (accepted until {until:%Y-%m-%d})" if until else reason
    with transaction.atomic():
        for states in states_locked(team=team, fingerprints=fps):
            events = []
            for state in states:
                waits = state.severity in NEEDS_APPROVAL and not is_owner
                before = state.status
                state.accept_reason, state.accepted_until = reason, until
                state.accept_requested_by, state.accept_requested_at = user, now
                state.comment, state.updated_by, state.updated_at = reason, user, now
                if waits:
                    state.acceptance = AcceptanceState.PENDING
                    state.accept_approved_by = state.accept_approved_at = None
                    pending.append(state.fingerprint)
                    kind = FindingEvent.Kind.ACCEPT_REQUESTED
                else:
                    state.status = Status.ACCEPTED
                    state.acceptance = AcceptanceState.APPROVED
                    state.accept_approved_by, state.accept_approved_at = user, now
                    accepted.append(state.fingerprint)
                    kind = FindingEvent.Kind.TRIAGE
                events.append(
                    FindingEvent(
                        team=team, fingerprint=state.fingerprint, kind=kind, from_status=before,
                        to_status=state.status, comment=label, user=user, created_at=now,
                    )
                )  # fmt: skip
            FindingState.objects.bulk_update(
                states,
                ["status", "comment", "updated_by", "updated_at", *ACCEPTANCE_FIELDS],
                batch_size=CHUNK,
            )
            FindingEvent.objects.bulk_create(events, batch_size=CHUNK)
        rows_status_set(team_id=team.pk, fingerprints=accepted, status=Status.ACCEPTED)
        if accepted or pending:
            audit_record(
                "findings.accepted",
                user=user,
                team=team,
                detail={
                    "findings": len(accepted), "waiting_for_approval": len(pending),
                    "until": until.isoformat() if until else None, "reason": reason[:200],
                },
            )  # fmt: skip
            transaction.on_commit(lambda: open_findings_refresh_soon(team.pk))
        if pending:
            transaction.on_commit(
                lambda: acceptance_requested.send(
                    sender=None, team_id=team.pk, fingerprints=pending,
                    user_id=user.pk if user else None,
                )
            )  # fmt: skip
    return TriageResult(
        status=Status.ACCEPTED, requested=len(fps), changed=len(accepted), pending=len(pending)
    )


def acceptance_decide(
    *, team: Team, fingerprints: Iterable[str], user: User | None, approve: bool, comment: str = ""
) -> int:
    """An owner approves (the findings become accepted until the date asked for) or refuses the
    pending acceptance requests among these findings; returns how many were decided."""
    now = timezone.now()
    comment = (comment or "").strip()[:COMMENT_MAX]
    decided: list[str] = []
    with transaction.atomic():
        for states in states_locked(team=team, fingerprints=fingerprints):
            waiting = [s for s in states if s.acceptance == AcceptanceState.PENDING]
            events = []
            for state in waiting:
                before = state.status
                if approve:
                    state.status = Status.ACCEPTED
                    state.acceptance = AcceptanceState.APPROVED
                    state.accept_approved_by, state.accept_approved_at = user, now
                    kind = FindingEvent.Kind.ACCEPT_APPROVED
                    note = f"until {state.accepted_until:%Y-%m-%d}" if state.accepted_until else ""
                else:
                    acceptance_clear(state)
                    kind = FindingEvent.Kind.ACCEPT_REJECTED
                    note = ""
                state.updated_by, state.updated_at = user, now
                events.append(
                    FindingEvent(
                        team=team, fingerprint=state.fingerprint, kind=kind, from_status=before,
                        to_status=state.status, comment=" ".join(filter(None, (comment, note))),
                        user=user, created_at=now,
                    )
                )  # fmt: skip
                decided.append(state.fingerprint)
            FindingState.objects.bulk_update(
                waiting, ["status", "updated_by", "updated_at", *ACCEPTANCE_FIELDS]
            )
            FindingEvent.objects.bulk_create(events, batch_size=CHUNK)
        if approve:
            rows_status_set(team_id=team.pk, fingerprints=decided, status=Status.ACCEPTED)
        if decided:
            audit_record(
                "findings.acceptance_approved" if approve else "findings.acceptance_refused",
                user=user,
                team=team,
                detail={"findings": len(decided)},
            )
            transaction.on_commit(lambda: open_findings_refresh_soon(team.pk))
    return len(decided)


def acceptances_expire(*, now: datetime | None = None) -> int:
    """Reopen the accepted findings whose acceptance ended by `now` (and drop the requests whose
    date passed before an owner decided), team by team; returns how many were reopened. The
    integrations are told through `acceptances_expired` after each team's commit."""
    now = now or timezone.now()
    due = (
        FindingState.objects.filter(
            acceptance__in=[AcceptanceState.APPROVED, AcceptanceState.PENDING],
            accepted_until__lte=now,
        )
        .order_by("team_id")
        .values_list("team_id", "fingerprint")
    )
    by_team: dict[int, list[str]] = {}
    for team_id, fingerprint in due:
        by_team.setdefault(team_id, []).append(fingerprint)
    reopened_total = 0
    for team_id, fps in by_team.items():
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            continue
        reopened: list[str] = []
        people: set[int] = set()  # who asked for and approved the acceptances: they are told
        with transaction.atomic():
            for states in states_locked(team=team, fingerprints=fps):
                ended = [
                    s
                    for s in states
                    if s.acceptance and s.accepted_until is not None and s.accepted_until <= now
                ]
                events = []
                for state in ended:
                    before, until = state.status, state.accepted_until
                    if state.acceptance == AcceptanceState.APPROVED:
                        state.status = Status.OPEN
                        reopened.append(state.fingerprint)
                        people.update(
                            i
                            for i in (state.accept_requested_by_id, state.accept_approved_by_id)
                            if i
                        )
                    acceptance_clear(state)
                    state.updated_at = now
                    events.append(
                        FindingEvent(
                            team=team, fingerprint=state.fingerprint,
                            kind=FindingEvent.Kind.EXPIRED, from_status=before,
                            to_status=state.status, created_at=now,
                            comment=f"The acceptance ended on {until:%Y-%m-%d %H:%M} UTC.",
                        )
                    )  # fmt: skip
                FindingState.objects.bulk_update(
                    ended, ["status", "updated_at", *ACCEPTANCE_FIELDS], batch_size=CHUNK
                )
                FindingEvent.objects.bulk_create(events, batch_size=CHUNK)
            rows_status_set(team_id=team.pk, fingerprints=reopened, status=Status.OPEN)
            if reopened:
                audit_record(
                    "findings.acceptance_expired", user=None, team=team,
                    detail={"findings": len(reopened)},
                )  # fmt: skip
                transaction.on_commit(
                    functools.partial(_expired_tell, team.pk, list(reopened), sorted(people))
                )
        reopened_total += len(reopened)
    return reopened_total


def _expired_tell(team_id: int, fingerprints: list[str], user_ids: list[int]) -> None:
    open_findings_refresh_soon(team_id)
    acceptances_expired.send(
        sender=None, team_id=team_id, fingerprints=fingerprints, user_ids=user_ids
    )
