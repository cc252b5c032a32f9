"""The home page after login: the team's dashboard (scans.reports.dashboard), with the running scans
refreshed live by HTMX."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Role
from accounts.permissions import team_role_required
from scans.reports.dashboard import dashboard_for, running_scans
from scans.engine.runtime import SEVERITIES


@team_role_required(Role.VIEWER)
def dashboard(request: HttpRequest) -> HttpResponse:
    board = dashboard_for(request.team)  # type: ignore[attr-defined]
    return render(request, "dashboard.html", {"board": board, "severities": SEVERITIES})


@team_role_required(Role.VIEWER)
def dashboard_running(request: HttpRequest) -> HttpResponse:
    """The running-scans card; it keeps polling while any scan runs."""
    running = running_scans(request.team)  # type: ignore[attr-defined]
    return render(request, "_dashboard_running.html", {"running": running})
