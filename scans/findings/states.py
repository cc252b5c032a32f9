"""What every change to a finding's triage state shares (scans.findings.triage, .ownership,
.acceptance): lock the states of some fingerprints in a stable order, mirror a status onto every
row of those fingerprints, and ask a worker to recount the dashboard."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.core.cache import cache

from accounts.models import Team
from config.bulkwrite import chunks
from scans.models import Finding, FindingState

CHUNK = 2000


def states_locked(*, team: Team, fingerprints: Iterable[str]) -> Iterator[list[FindingState]]:
    """The team's states of these fingerprints, locked (SELECT … FOR UPDATE) in fingerprint order,
    chunk by chunk; a fingerprint with rows but no state (written before states existed) gets
    one first. Call inside a transaction."""
    fps = sorted(set(fingerprints))
    for chunk in chunks(fps, CHUNK):
        states = list(
            FindingState.objects.select_for_update()
            .filter(team=team, fingerprint__in=chunk)
            .order_by("fingerprint")
        )
        known = {s.fingerprint for s in states}
        for fp in chunk:
            if fp in known:
                continue
            # A demo finding has no triage state: triaging it changes nothing (scans.findings.demo).
            row = (
                Finding.objects.filter(team=team, fingerprint=fp, is_demo=False)
                .order_by("created_at")
                .first()
            )
            if row is None:
                continue
            states.append(
                FindingState.objects.create(
                    team=team, fingerprint=fp, status=row.status, severity=row.severity,
                    first_seen_at=row.first_seen_at, last_seen_at=row.last_seen_at,
                )
            )  # fmt: skip
        yield states


def rows_status_set(*, team_id: int, fingerprints: list[str], status: str) -> None:
    """Every finding row of these fingerprints shows `status` (exports and reports of old scans
    show the current triage)."""
    for chunk in chunks(sorted(fingerprints), CHUNK):
        Finding.objects.filter(team_id=team_id, fingerprint__in=chunk).exclude(
            status=status
        ).update(status=status)


def open_findings_refresh_soon(team_id: int) -> None:
    """Ask a worker to refresh the team's dashboard figures; bursts of triage coalesce into one
    task (the flag is cleared when the task starts)."""
    from django_q.tasks import async_task

    if cache.add(f"open-findings-refresh:{team_id}", 1, timeout=60):
        async_task("scans.tasks.open_findings_refresh", team_id, group="dashboard")
