"""Owners and deadlines (assignee, due date from first seen + the team's SLA, overdue and due-soon
filters) and risk acceptance (reason and expiry required, owner approval for critical/high, the
expiry job reopens and tells the team), through the API and the services behind the pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Role
from scans.engine.runtime import FindingData
from scans.models import Finding, FindingEvent, FindingState

pytestmark = pytest.mark.django_db


def _findings(*severities: str) -> list[FindingData]:
    return [
        FindingData(tool="nuclei", severity=s, title=f"{s} issue {i}", rule_id=f"rule-{i}",
                    location=f"https://app.test/{i}")
        for i, s in enumerate(severities)
    ]  # fmt: skip


def _in(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def test_the_api_gives_each_finding_its_due_date_and_sla_state(
    make_scan: Callable[..., Any], owner_api: Any, team: Any, clock: Any
) -> None:
    make_scan(_findings("critical", "high", "medium", "info"))
    rows = {f["severity"]: f for f in owner_api.get("/api/v1/findings").json()["results"]}
    first_seen = Finding.objects.get(severity="critical").first_seen_at
    assert rows["critical"]["due_at"] == (first_seen + timedelta(days=7)).isoformat()
    assert rows["high"]["sla_breached"] is False and rows["info"]["due_at"] is None
    assert rows["critical"]["sla_state"] == "due_soon"  # 7 days: due within the week
    clock.advance(days=8)
    rows = {f["severity"]: f for f in owner_api.get("/api/v1/findings").json()["results"]}
    assert rows["critical"]["sla_breached"] is True and rows["high"]["sla_breached"] is False
    overdue = owner_api.get("/api/v1/findings?due=overdue").json()["results"]
    assert [f["severity"] for f in overdue] == ["critical"]
    team.sla_high_days = 5  # a stricter SLA applies at once: nothing is stored per finding
    team.save()
    overdue = owner_api.get("/api/v1/findings?due=overdue").json()["results"]
    assert {f["severity"] for f in overdue} == {"critical", "high"}


def test_an_accepted_finding_is_never_overdue(
    make_scan: Callable[..., Any], owner_api: Any, clock: Any
) -> None:
    scan = make_scan(_findings("critical"))
    finding = scan.findings.get()
    response = owner_api.post(
        f"/api/v1/findings/{finding.pk}/triage",
        {"status": "accepted", "comment": "isolated lab", "accepted_until": _in(60)},
        format="json",
    )
    assert response.status_code == 200 and response.json()["acceptance"] == "approved"
    clock.advance(days=30)
    body = owner_api.get(f"/api/v1/findings/{finding.pk}").json()
    assert body["status"] == "accepted" and body["sla_breached"] is False
    assert owner_api.get("/api/v1/findings?due=overdue&status=").json()["results"] == []


def test_accepting_needs_a_reason_and_an_end_within_a_year(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    finding = make_scan(_findings("low")).findings.get()
    url = f"/api/v1/findings/{finding.pk}/triage"
    for body, field in (
        ({"status": "accepted", "accepted_until": _in(10)}, "comment"),
        ({"status": "accepted", "comment": "why"}, "accepted_until"),
        ({"status": "accepted", "comment": "why", "accepted_until": _in(-1)}, "accepted_until"),
        ({"status": "accepted", "comment": "why", "accepted_until": _in(400)}, "accepted_until"),
        ({"status": "accepted", "comment": "why", "accepted_until": "next week"}, "accepted_until"),
    ):
        response = owner_api.post(url, body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["errors"], response.json()
    assert Finding.objects.get(pk=finding.pk).status == "open"


def test_an_analyst_asks_and_an_owner_approves_accepting_a_critical_finding(
    make_scan: Callable[..., Any], team: Any, make_member: Callable[..., Any],
    issue_key: Callable[..., Any], api: Callable[..., Any], owner_api: Any, sync_tasks: None,
    mailoutbox: list[Any], django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    scan = make_scan(_findings("critical", "medium"))
    critical, medium = scan.findings.get(severity="critical"), scan.findings.get(severity="medium")
    analyst = make_member(team, Role.ANALYST)
    analyst_api = api(issue_key(analyst, team, role=Role.ANALYST).raw_key)
    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_api.post(
            "/api/v1/findings/triage",
            {"ids": [critical.pk, medium.pk], "status": "accepted", "comment": "vendor patch in Q3",
             "accepted_until": _in(90)},
            format="json",
        )  # fmt: skip
    assert response.json()["changed"] == 1 and response.json()["pending"] == 1
    assert Finding.objects.get(pk=medium.pk).status == "accepted"
    assert Finding.objects.get(pk=critical.pk).status == "open"  # until an owner approves
    assert FindingState.objects.get(fingerprint=critical.fingerprint).acceptance == "pending"
    # The owner is asked by e-mail.
    asked = [m for m in mailoutbox if "Approve accepting" in m.subject]
    assert asked and asked[0].to == ["analyst@example.test"]
    refused = analyst_api.post(
        "/api/v1/findings/acceptance", {"ids": [critical.pk], "approve": True}, format="json"
    )
    assert refused.status_code == 403
    approved = owner_api.post(
        "/api/v1/findings/acceptance", {"ids": [critical.pk], "approve": True}, format="json"
    )
    assert approved.json()["changed"] == 1
    state = FindingState.objects.get(fingerprint=critical.fingerprint)
    approver = state.accept_approved_by
    assert state.status == "accepted" and approver is not None
    assert approver.email == "analyst@example.test"  # the owner (user fixture)
    kinds = list(
        FindingEvent.objects.filter(fingerprint=critical.fingerprint).values_list("kind", flat=True)
    )
    assert set(kinds) == {"accept_asked", "accept_ok"}


def test_assigning_a_finding_emails_the_new_owner_and_filters_by_assignee(
    make_scan: Callable[..., Any], owner_api: Any, team: Any, make_member: Callable[..., Any],
    sync_tasks: None, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any,
    make_user: Callable[..., Any],
) -> None:  # fmt: skip
    scan = make_scan(_findings("high", "low"))
    high = scan.findings.get(severity="high")
    bob = make_member(team, Role.ANALYST, email="bob@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.post(
            f"/api/v1/findings/{high.pk}/assign", {"assignee": bob.pk}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["assignee"] == {"id": bob.pk, "email": "bob@example.test"}
    mail = [m for m in mailoutbox if m.to == ["bob@example.test"]]
    assert mail and "assigned to you" in mail[0].subject and f"/findings/{high.pk}/" in mail[0].body
    listed = owner_api.get(f"/api/v1/findings?assignee={bob.pk}").json()["results"]
    assert [f["id"] for f in listed] == [high.pk]
    assert [
        f["severity"] for f in owner_api.get("/api/v1/findings?assignee=none").json()["results"]
    ] == ["low"]
    stranger = make_user("stranger@example.test")
    response = owner_api.post(
        f"/api/v1/findings/{high.pk}/assign", {"assignee": stranger.pk}, format="json"
    )
    assert response.status_code == 400 and "assignee" in response.json()["errors"]
    history = owner_api.get(f"/api/v1/findings/{high.pk}").json()["history"]
    assert history[0]["kind"] == "assigned" and "bob@example.test" in history[0]["comment"]


def test_the_structured_fields_filters_and_cvss_sort(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    base: dict[str, Any] = {
        "tool": "trivy",
        "severity": "high",
        "component": "openssl",
        "version": "3.0.1",
    }
    make_scan([
        FindingData(**base, title="a", rule_id="CVE-2024-0001", location="img:a",
                    cvss_v3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    cwe_ids=["CWE-79"], is_kev=True, fixed_version="3.0.2"),
        FindingData(**base, title="b", rule_id="CVE-2024-0002", location="img:b",
                    cvss_v3_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", cwe_ids=["CWE-787"]),
        FindingData(**base, title="c", rule_id="CVE-2024-0003", location="img:c"),
    ])  # fmt: skip

    def titles(query: str) -> list[str]:
        response = owner_api.get(f"/api/v1/findings?{query}")
        assert response.status_code == 200, response.content
        return [f["title"] for f in response.json()["results"]]

    assert titles("cvss_min=7") == ["a"]
    assert titles("sort=-cvss") == ["a", "b"]  # scored findings, highest first
    assert titles("kev=true") == ["a"] and titles("has_fix=true") == ["a"]
    assert sorted(titles("has_fix=false")) == ["b", "c"]
    assert titles("cwe=787") == ["b"] and titles("cwe=CWE-79") == ["a"]
    body = owner_api.get("/api/v1/findings?kev=true").json()["results"][0]
    assert body["cvss_v3_score"] == 9.8 and body["cvss_severity"] == "Critical"
    assert body["cwe_ids"] == ["CWE-79"] and body["vuln_ids"] == [] and body["has_fix"] is True
    for bad in ("cvss_min=11", "cwe=XSS", "kev=maybe", "due=later", "assignee=bob", "diff=new"):
        response = owner_api.get(f"/api/v1/findings?{bad}")
        assert response.status_code == 400, bad
