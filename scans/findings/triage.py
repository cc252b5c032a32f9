"""Triage: a finding's status belongs to its fingerprint, not to one scan's row.

`FindingState` holds one row per (team, fingerprint) with the status, the comment and who set it.
Every Finding row of that fingerprint mirrors the status, so a scan's exports and reports show
the current triage; a new scan that finds the same thing again inherits it
(`finding_states_observe`, called by scans.findings.storage.findings_store). Every change is a
`FindingEvent`, the finding's history.

Risk acceptance (reason, expiry, an owner's approval for critical and high findings) is
scans.findings.acceptance; assignment and deadlines scans.findings.ownership.

Two changes happen without a person: a `fixed` finding seen again is reopened, and an `open`
finding that the next completed scan of the same workflow and targets no longer reports becomes
`fixed` (`scan_findings_close_missing`, on `scan_finished`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Team, User
from config.bulkwrite import chunks, finding_states_upsert, is_postgres
from scans.findings.acceptance import (
    ACCEPTANCE_FIELDS,
    COMMENT_MAX,
    TriageResult,
    acceptance_clear,
    finding_accept,
)
from scans.findings.diff import scan_previous
from scans.findings.states import open_findings_refresh_soon, rows_status_set, states_locked
from scans.models import Finding, FindingEvent, FindingState, Scan, ScanStatus

CHUNK = 2000
TRIAGE_MAX = 5000  # findings per bulk request
Status = Finding.Status


def finding_states_observe(
    *,
    scan: Scan,
    severities: dict[str, str],
    now: datetime,
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, tuple[str, datetime]]:
    """Record that `scan` saw these fingerprints (fingerprint -> severity): create the missing
    states, bump last-seen and severity, reopen the ones triaged `fixed`. Returns each
    fingerprint's (status, first_seen_at) for the new Finding rows. `meanwhile` (the caller's
    preparation of those rows) runs while PostgreSQL works on the states, else first.

    The upsert takes row locks in fingerprint order, so two scans of the same team storing the
    same fingerprints at once queue behind each other instead of both marking a row "latest"."""
    fingerprints = sorted(severities)
    states: dict[str, tuple[str, datetime]] = {}
    reopened: list[str] = []
    if fingerprints and is_postgres():
        # Only states that existed before come back; the new ones are ("open", now).
        states = {fp: (Status.OPEN, now) for fp in fingerprints}
        for fp, status, first_seen in finding_states_upsert(
            team_id=scan.team_id,
            fingerprints=fingerprints,
            severities=[severities[fp] for fp in fingerprints],
            now=now,
            meanwhile=meanwhile,
        ):
            if status == Status.FIXED:
                reopened.append(fp)
                status = Status.OPEN
            states[fp] = (status, first_seen)
        fingerprints = []  # done in one statement
    elif meanwhile is not None:
        meanwhile()
    for chunk in chunks(fingerprints):
        FindingState.objects.bulk_create(
            [
                FindingState(
                    team_id=scan.team_id, fingerprint=fp, severity=severities[fp],
                    status=Status.OPEN, first_seen_at=now, last_seen_at=now,
                )
                for fp in chunk
            ],
            update_conflicts=True,
            unique_fields=["team", "fingerprint"],
            update_fields=["severity", "last_seen_at"],
        )  # fmt: skip
        rows = FindingState.objects.filter(team_id=scan.team_id, fingerprint__in=chunk)
        for fp, status, first_seen in rows.values_list("fingerprint", "status", "first_seen_at"):
            if status == Status.FIXED:
                reopened.append(fp)
                status = Status.OPEN
            states[fp] = (status, first_seen)
    if reopened:
        for chunk in chunks(reopened):
            FindingState.objects.filter(team_id=scan.team_id, fingerprint__in=chunk).update(
                status=Status.OPEN
            )
            Finding.objects.filter(team_id=scan.team_id, fingerprint__in=chunk).update(
                status=Status.OPEN
            )
        FindingEvent.objects.bulk_create(
            [
                FindingEvent(
                    team_id=scan.team_id, fingerprint=fp, kind=FindingEvent.Kind.REOPENED,
                    from_status=Status.FIXED, to_status=Status.OPEN, scan=scan, created_at=now,
                    comment=f"Seen again by scan #{scan.pk}.",
                )
                for fp in reopened
            ],
            batch_size=CHUNK,
        )  # fmt: skip
    return states


def findings_latest_refresh(*, team_id: int, fingerprints: Iterable[str]) -> None:
    """After rows were deleted (a scan deleted, a rules node dropping findings): the newest
    remaining row of each fingerprint becomes its latest occurrence; a fingerprint with no row
    left loses its state unless someone triaged it (that decision must survive)."""
    fps = sorted(set(fingerprints))
    for chunk in chunks(fps):
        with transaction.atomic():
            remaining = (
                # A demo scan's rows never become anyone's latest occurrence.
                Finding.objects.filter(team_id=team_id, fingerprint__in=chunk, is_demo=False)
                .order_by("fingerprint", "-created_at", "-id")
                .values_list("fingerprint", "id", "is_latest")
            )
            newest: dict[str, tuple[int, bool]] = {}
            # Rows still marked latest that are not their fingerprint's newest, by id: a
            # `fingerprint IN (…) AND is_latest` update can be planned as a read of every latest
            # row of the team (see config.bulkwrite.findings_demote).
            demote: list[int] = []
            for fp, pk, is_latest in remaining:
                if fp not in newest:
                    newest[fp] = (pk, is_latest)
                elif is_latest:
                    demote.append(pk)
            promote = [pk for pk, is_latest in newest.values() if not is_latest]
            if demote:
                Finding.objects.filter(pk__in=demote).update(is_latest=False)
            if promote:
                Finding.objects.filter(pk__in=promote).update(is_latest=True)
            gone = [fp for fp in chunk if fp not in newest]
            if gone:
                FindingState.objects.filter(
                    team_id=team_id, fingerprint__in=gone, status=Status.OPEN
                ).delete()


def finding_triage(
    *,
    team: Team,
    fingerprints: Iterable[str],
    user: User | None,
    status: str,
    comment: str = "",
    accepted_until: datetime | None = None,
    role: str | None = None,
) -> TriageResult:
    """Set the status of these findings (by fingerprint: every scan's row of the same finding, and
    the ones future scans find) with an optional comment; one history event per change.

    `accepted` is a risk acceptance (scans.findings.acceptance.finding_accept): it needs the
    comment as its reason and `accepted_until`, and critical and high findings accepted by
    someone who is not an owner wait for an owner's approval. Any other status ends an
    acceptance (or a request for one)."""
    if status not in Status.values:
        raise ValueError(f"status must be one of {', '.join(Status.values)}")
    if status == Status.ACCEPTED:
        return finding_accept(
            team=team, fingerprints=fingerprints, user=user, reason=comment,
            until=accepted_until, role=role,
        )  # fmt: skip
    comment = (comment or "").strip()[:COMMENT_MAX]
    fps = sorted(set(fingerprints))
    now = timezone.now()
    changed = 0
    with transaction.atomic():
        for states in states_locked(team=team, fingerprints=fps):
            touched = [
                s
                for s in states
                if s.status != status or (comment and s.comment != comment) or s.acceptance
            ]
            events = [
                FindingEvent(
                    team=team, fingerprint=s.fingerprint, kind=FindingEvent.Kind.TRIAGE,
                    from_status=s.status, to_status=status, comment=comment, user=user,
                    created_at=now,
                )
                for s in touched
            ]  # fmt: skip
            for s in touched:
                s.status, s.updated_by, s.updated_at = status, user, now
                if comment:
                    s.comment = comment
                acceptance_clear(s)
            FindingState.objects.bulk_update(
                touched,
                ["status", "comment", "updated_by", "updated_at", *ACCEPTANCE_FIELDS],
                batch_size=CHUNK,
            )
            FindingEvent.objects.bulk_create(events, batch_size=CHUNK)
            rows_status_set(
                team_id=team.pk, fingerprints=[s.fingerprint for s in touched], status=status
            )
            changed += len(touched)
        if changed:
            audit_record(
                "findings.triaged",
                user=user,
                team=team,
                detail={"status": status, "findings": changed, "comment": comment[:200]},
            )
            transaction.on_commit(lambda: open_findings_refresh_soon(team.pk))
    return TriageResult(status=status, requested=len(fps), changed=changed)


def scan_findings_close_missing(scan: Scan) -> int:
    """`open` findings that the previous completed scan of the same workflow and targets reported
    and this completed scan does not are marked `fixed` (unless a later scan still saw them)."""

    if scan.status != ScanStatus.COMPLETED or scan.mode != Scan.Mode.RUN:
        return 0
    previous = scan_previous(scan)
    if previous is None:
        return 0
    # The previous scan's rows that are still their fingerprint's latest occurrence: neither this
    # scan (its rows became the latest) nor any other since reported them.
    missing = sorted(
        Finding.objects.filter(team_id=scan.team_id, scan=previous, is_latest=True).values_list(
            "fingerprint", flat=True
        )
    )
    now = timezone.now()
    closed = 0
    with transaction.atomic():
        for chunk in chunks(missing):
            states = list(
                FindingState.objects.select_for_update()
                .filter(team_id=scan.team_id, fingerprint__in=chunk, status=Status.OPEN)
                .order_by("fingerprint")
            )
            fps = [s.fingerprint for s in states]
            if not fps:
                continue
            FindingState.objects.filter(pk__in=[s.pk for s in states]).update(status=Status.FIXED)
            Finding.objects.filter(team_id=scan.team_id, fingerprint__in=fps).update(
                status=Status.FIXED
            )
            FindingEvent.objects.bulk_create(
                [
                    FindingEvent(
                        team_id=scan.team_id, fingerprint=fp, kind=FindingEvent.Kind.AUTO_FIXED,
                        from_status=Status.OPEN, to_status=Status.FIXED, scan=scan,
                        created_at=now, comment=f"Not reported by scan #{scan.pk}.",
                    )
                    for fp in fps
                ],
                batch_size=CHUNK,
            )  # fmt: skip
            closed += len(fps)
    return closed


def finding_history(*, team: Team, fingerprint: str) -> list[FindingEvent]:
    """The status changes of one finding (all its occurrences), newest first."""
    return list(
        FindingEvent.objects.filter(team=team, fingerprint=fingerprint)
        .select_related("user", "scan")
        .order_by("-created_at", "-pk")
    )
