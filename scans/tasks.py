"""django-q2 task entry points of the scans app: the names queued tasks and schedules are stored
under (`scans.tasks.<name>`), kept stable while the code behind them moves. Tasks get ids, never
objects."""

from __future__ import annotations

from django.core.cache import cache

from scans.assets.recording import assets_open_findings_refresh
from scans.engine import reaper, step
from scans.findings import acceptance, storage
from scans.reports import dashboard, pdf


def step_run(step_id: int) -> str:
    """Run one scan step (scans.engine.step)."""
    return step.step_run(step_id)


def reap() -> str:
    """The every-minute reaper (scans.engine.reaper)."""
    return reaper.reap_stale_steps()


def report_render(report_id: int) -> str:
    """Render a scan's PDF report (scans.reports.pdf)."""
    return pdf.report_render(report_id)


def open_findings_refresh(team_id: int) -> str:
    """Recount a team's open findings for the dashboard and its assets' open-finding counts (the
    inventory's "with open findings" filter), queued by
    scans.findings.triage.open_findings_refresh_soon after a scan and after triage."""
    cache.delete(f"open-findings-refresh:{team_id}")
    row = dashboard.open_findings_refresh(team_id)
    assets_open_findings_refresh(team_id=team_id)
    return f"team {team_id}: {row.total if row else 'gone'} open"


def artifacts_expire() -> str:
    """Every hour: delete raw outputs past their retention (scans.findings.storage)."""
    return f"{storage.artifacts_expire()} artifact(s) deleted"


def acceptances_expire() -> str:
    """Every minute: reopen the findings whose risk acceptance ended
    (scans.findings.acceptance)."""
    return f"{acceptance.acceptances_expire()} reopened"
