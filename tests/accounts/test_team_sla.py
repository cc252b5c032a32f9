"""The team's deadlines (SLA days by severity): 7/30/90/180 by default, owners change them on the
Team page or with `PATCH /api/v1/teams/sla`, bad values are refused with the field named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Role, Team

pytestmark = pytest.mark.django_db


def test_the_defaults_are_7_30_90_180_days(owner_api: Any) -> None:
    assert owner_api.get("/api/v1/teams/sla").json() == {
        "critical": 7, "high": 30, "medium": 90, "low": 180,
    }  # fmt: skip


def test_an_owner_changes_them_and_bad_values_are_refused(owner_api: Any, team: Team) -> None:
    response = owner_api.patch("/api/v1/teams/sla", {"critical": 3, "low": 365}, format="json")
    assert response.status_code == 200 and response.json()["critical"] == 3
    team.refresh_from_db()
    assert team.sla_days == {"critical": 3, "high": 30, "medium": 90, "low": 365}
    for body in ({"critical": 0}, {"high": 5000}, {"high": "soon"}, {"info": 10}):
        response = owner_api.patch("/api/v1/teams/sla", body, format="json")
        assert response.status_code == 400, body
        assert set(body) <= set(response.json()["errors"]), response.json()


def test_analysts_read_but_do_not_change_them(
    shared_team: Team, make_member: Callable[..., Any], issue_key: Callable[..., Any],
    api: Callable[..., Any],
) -> None:  # fmt: skip
    analyst = make_member(shared_team, Role.ANALYST)
    client = api(issue_key(analyst, shared_team, role=Role.ANALYST).raw_key)
    assert client.get("/api/v1/teams/sla").status_code == 200
    assert client.patch("/api/v1/teams/sla", {"high": 10}, format="json").status_code == 403


def test_the_team_page_saves_them_with_field_errors(client: Any, user: Any, team: Team) -> None:
    client.force_login(user)
    page = client.get("/accounts/teams")
    assert b"Deadlines (SLA)" in page.content
    bad = client.post("/accounts/teams/sla", {"critical": 0, "high": 30, "medium": 90, "low": 180})
    assert bad.status_code == 400 and b"greater than or equal to 1" in bad.content
    ok = client.post("/accounts/teams/sla", {"critical": 5, "high": 20, "medium": 60, "low": 120})
    assert ok.status_code == 302
    team.refresh_from_db()
    assert team.sla_days == {"critical": 5, "high": 20, "medium": 60, "low": 120}
