"""Triage sticks to the fingerprint: across scans, in bulk, with history; fixed findings reopen
when seen again, and findings the next scan no longer reports become fixed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from scans.findings.triage import scan_findings_close_missing
from scans.models import Finding, FindingEvent, FindingState
from tests.scans.findings.factories import realistic_findings

pytestmark = pytest.mark.django_db


@pytest.mark.smoke
def test_a_finding_triaged_as_false_positive_keeps_that_status_in_the_next_scan(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    data = realistic_findings(10)
    first = make_scan(data)
    target = Finding.objects.get(scan=first, fingerprint=data[3].fingerprint)
    response = owner_api.post(
        f"/api/v1/findings/{target.pk}/triage",
        {"status": "false_positive", "comment": "test fixture, not deployed"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "false_positive"

    second = make_scan(realistic_findings(10))
    again = Finding.objects.get(scan=second, fingerprint=data[3].fingerprint)
    assert again.status == "false_positive"
    assert again.first_seen_at == target.first_seen_at
    others = Finding.objects.filter(scan=second).exclude(pk=again.pk)
    assert set(others.values_list("status", flat=True)) == {"open"}


def test_bulk_triage_of_a_thousand_findings_is_one_request(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    scan = make_scan(1000)
    ids = list(Finding.objects.filter(scan=scan).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        response = owner_api.post(
            "/api/v1/findings/triage",
            {
                "ids": ids,
                "status": "accepted",
                "comment": "risk accepted until Q3",
                "accepted_until": (timezone.now() + timedelta(days=90)).isoformat(),
            },
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "accepted",
        "requested": 1000,
        "changed": 1000,
        "pending": 0,
        "not_found": [],
    }
    assert Finding.objects.filter(scan=scan, status="accepted").count() == 1000
    assert FindingState.objects.filter(team=scan.team, status="accepted").count() == 1000
    assert FindingEvent.objects.filter(team=scan.team, to_status="accepted").count() == 1000
    # Set-based: the number of statements does not grow with the number of findings.
    assert len(queries.captured_queries) < 40


def test_bulk_triage_ignores_other_teams_findings(
    make_scan: Callable[..., Any], owner_api: Any, make_user: Callable[..., Any]
) -> None:
    from accounts.models import Team

    stranger = make_user("stranger@example.test")
    theirs = make_scan(5, team=Team.objects.get(personal_owner=stranger))
    ids = list(Finding.objects.filter(scan=theirs).values_list("pk", flat=True))
    response = owner_api.post(
        "/api/v1/findings/triage", {"ids": ids, "status": "fixed"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["changed"] == 0
    assert sorted(response.json()["not_found"]) == sorted(ids)
    assert not Finding.objects.filter(scan=theirs).exclude(status="open").exists()
    assert owner_api.get(f"/api/v1/findings/{ids[0]}").status_code == 404


def test_a_viewer_cannot_triage(
    make_scan: Callable[..., Any],
    team: Any,
    make_member: Callable[..., Any],
    issue_key: Any,
    api: Any,
) -> None:
    scan = make_scan(3)
    viewer = make_member(team, Role.VIEWER)
    client = api(issue_key(viewer, team).raw_key)
    finding = Finding.objects.filter(scan=scan).order_by("pk")[0]
    assert client.get(f"/api/v1/findings/{finding.pk}").status_code == 200
    response = client.post(
        f"/api/v1/findings/{finding.pk}/triage", {"status": "fixed"}, format="json"
    )
    assert response.status_code == 403


def test_it_refuses_an_unknown_status_with_400(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    finding = Finding.objects.filter(scan=make_scan(2)).order_by("pk")[0]
    response = owner_api.post(
        f"/api/v1/findings/{finding.pk}/triage", {"status": "wontfix"}, format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_history_records_who_changed_what_and_why(
    make_scan: Callable[..., Any], owner_api: Any, user: Any
) -> None:
    finding = Finding.objects.filter(scan=make_scan(2)).order_by("pk")[0]
    owner_api.post(
        f"/api/v1/findings/{finding.pk}/triage",
        {
            "status": "accepted",
            "comment": "WAF rule 12",
            "accepted_until": (timezone.now() + timedelta(days=30)).isoformat(),
        },
        format="json",
    )
    owner_api.post(f"/api/v1/findings/{finding.pk}/triage", {"status": "open"}, format="json")
    history = owner_api.get(f"/api/v1/findings/{finding.pk}").json()["history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        ("accepted", "open"),
        ("open", "accepted"),
    ]
    assert history[1]["comment"].startswith("WAF rule 12 (accepted until ")
    assert history[1]["user"] == user.email


def test_a_fixed_finding_seen_again_reopens_with_a_history_entry(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    data = realistic_findings(4)
    first = make_scan(data)
    finding = Finding.objects.get(scan=first, fingerprint=data[0].fingerprint)
    owner_api.post(f"/api/v1/findings/{finding.pk}/triage", {"status": "fixed"}, format="json")
    second = make_scan(data)
    assert Finding.objects.get(scan=second, fingerprint=data[0].fingerprint).status == "open"
    assert FindingEvent.objects.filter(
        fingerprint=data[0].fingerprint, kind="reopened", scan=second
    ).exists()


def test_findings_the_next_scan_no_longer_reports_become_fixed(
    make_scan: Callable[..., Any],
) -> None:
    data = realistic_findings(6)
    make_scan(data)
    second = make_scan(data[:4])
    assert scan_findings_close_missing(second) == 2
    states = dict(FindingState.objects.values_list("fingerprint", "status"))
    assert states[data[4].fingerprint] == states[data[5].fingerprint] == "fixed"
    assert states[data[0].fingerprint] == "open"


def test_deleting_the_latest_scan_makes_the_previous_occurrence_latest_again(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    data = realistic_findings(5)
    first = make_scan(data)
    second = make_scan(data)
    assert not Finding.objects.filter(scan=first, is_latest=True).exists()
    assert owner_api.delete(f"/api/v1/scans/{second.pk}").status_code == 204
    assert Finding.objects.filter(scan=first, is_latest=True).count() == 5
    listed = owner_api.get("/api/v1/findings").json()
    assert listed["count"] == 5
    assert {row["scan"] for row in listed["results"]} == {first.pk}
