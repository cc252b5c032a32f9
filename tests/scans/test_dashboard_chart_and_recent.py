"""The dashboard's trend chart has a true axis (round ticks at proportional heights), and dry
runs are left out of its recent scans (issue #20)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from accounts.models import Team, User
from scans.models import Scan
from scans.reports.charts import nice_ticks, trend_svg
from scans.reports.dashboard import dashboard_for


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (5, [0, 1, 2, 3, 4, 5]),
        (7, [0, 2, 4, 6, 8]),
        (12, [0, 5, 10, 15]),
        (48, [0, 10, 20, 30, 40, 50]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_ticks_are_round_whole_steps_from_zero(top: int, ticks: list[int]) -> None:
    assert nice_ticks(top) == ticks


def test_the_trend_axis_puts_each_tick_at_its_true_height() -> None:
    today = date(2026, 12, 2)
    points = [(today - timedelta(days=d), {"high": 2, "low": 1}) for d in range(5, -1, -1)]
    svg = str(trend_svg(points))
    labels = re.findall(r'y="([\d.]+)"[^>]*text-anchor="end"[^>]*>([\d,]+)</text>', svg)
    values = [int(v) for _, v in labels]
    heights = [float(y) for y, _ in labels]
    assert values == [0, 1, 2, 3]  # the case a user saw: 0, 1, 2, 3, 5 at equal distances
    steps = {round(heights[i] - heights[i + 1], 1) for i in range(len(heights) - 1)}
    assert len(steps) == 1  # equal values apart, equal distances apart


@pytest.mark.django_db
def test_dry_runs_are_not_among_the_recent_scans(team: Team, user: User) -> None:
    real = Scan.objects.create(team=team, workflow_name="Nightly", status="completed")
    Scan.objects.create(team=team, workflow_name="Tried", status="completed", mode="dry_run")
    assert [s.pk for s in dashboard_for(team).recent] == [real.pk]
