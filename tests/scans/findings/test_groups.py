"""Findings grouped by rule / CVE: one row per CVE with its packages, assets, worst severity and
fix; worst first, paginated, under the list's filters; a whole group triaged or assigned at once
(page and API); the PostgreSQL skip-scan pages through the same groups as a plain GROUP BY."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from scans.engine.runtime import FindingData
from scans.findings.groups import _aggregate, finding_groups
from scans.models import Finding, FindingState
from tests.scans.findings.factories import realistic_findings

pytestmark = pytest.mark.django_db


def cve_in_packages(
    cve: str, severity: str, packages: int, images: int, **extra: Any
) -> list[FindingData]:
    return [
        FindingData(
            tool="trivy", severity=severity, title=f"{cve} in pkg-{p}", rule_id=cve,
            component=f"pkg-{p}", version="1.0", fixed_version="1.1" if p % 2 else "",
            location=f"registry.test/app-{p % images}:1", item=f"registry.test/app-{p % images}:1",
            **extra,
        )
        for p in range(packages)
    ]  # fmt: skip


def test_a_cve_in_twelve_packages_is_one_group_with_its_packages_assets_and_fix(
    make_scan: Callable[..., Any], team: Any
) -> None:
    make_scan(
        cve_in_packages("CVE-2024-1111", "high", 12, 5, is_kev=True)
        + cve_in_packages("CVE-2024-2222", "critical", 2, 1)
        + cve_in_packages("CVE-2024-3333", "low", 3, 3)
    )
    page = finding_groups(team)
    assert [g.rule_id for g in page.groups] == ["CVE-2024-2222", "CVE-2024-1111", "CVE-2024-3333"]
    group = page.groups[1]
    assert (group.findings, group.packages, group.assets, group.worst) == (12, 12, 5, "high")
    assert group.has_fix and group.fixable == 6 and group.kev == 12 and group.open == 12
    assert not page.has_next


def test_groups_follow_the_filters_and_paginate_worst_first(
    make_scan: Callable[..., Any], team: Any
) -> None:
    make_scan(realistic_findings(400, rules=60))
    seen: list[str] = []
    page_no = 1
    while True:
        page = finding_groups(team, page=page_no, size=7, status=["open"])
        seen += [g.rule_id for g in page.groups]
        if not page.has_next:
            break
        page_no += 1
    expected = list(
        _aggregate(
            Finding.objects.filter(team=team, is_latest=True, status="open"),
            sla_days=team.sla_days, now=timezone.now(),
        ).order_by("-worst", "rule_id").values_list("rule_id", flat=True)
    )  # fmt: skip
    assert seen == expected and len(seen) > 7
    only_trivy = finding_groups(team, tool="trivy", size=500).groups
    assert only_trivy and all(g.tool == "trivy" and g.tools == 1 for g in only_trivy)


def test_the_postgresql_skip_scan_pages_through_the_same_groups_as_group_by(
    require_postgres: None, make_scan: Callable[..., Any], team: Any
) -> None:
    make_scan(realistic_findings(1500, rules=90))
    assert connection.vendor == "postgresql"
    cases: list[dict[str, Any]] = [
        {},
        {"status": ["open"]},
        {"severity": ["high", "low"]},
        {"q": "Open port"},
    ]
    for filters in cases:
        walked: list[tuple[str, str, int]] = []
        page_no = 1
        while True:
            page = finding_groups(team, page=page_no, size=11, **filters)
            walked += [(g.rule_id, g.worst, g.findings) for g in page.groups]
            if not page.has_next:
                break
            page_no += 1
        qs = Finding.objects.filter(team=team, is_latest=True)
        if filters.get("status"):
            qs = qs.filter(status__in=filters["status"])
        if filters.get("severity"):
            qs = qs.filter(severity__in=filters["severity"])
        if filters.get("q"):
            qs = qs.filter(title__icontains=filters["q"])
        rows = _aggregate(qs, sla_days=team.sla_days, now=timezone.now()).order_by(
            "-worst", "rule_id"
        )
        expected = [
            (r["rule_id"], ["info", "low", "medium", "high", "critical"][r["worst"]], r["n"])
            for r in rows
        ]
        assert walked == expected, filters


def test_a_whole_group_is_triaged_and_assigned_through_the_api(
    make_scan: Callable[..., Any], owner_api: Any, team: Any, make_member: Callable[..., Any]
) -> None:
    make_scan(
        cve_in_packages("CVE-2024-1111", "medium", 6, 2)
        + cve_in_packages("CVE-2024-9", "low", 2, 1)
    )
    until = (timezone.now() + timedelta(days=30)).isoformat()
    response = owner_api.post(
        "/api/v1/findings/groups/triage",
        {"rule_ids": ["CVE-2024-1111"], "status": "accepted", "comment": "WAF blocks it",
         "accepted_until": until, "where": {"status": "open"}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["changed"] == 6
    assert set(
        Finding.objects.filter(rule_id="CVE-2024-1111").values_list("status", flat=True)
    ) == {"accepted"}
    assert set(Finding.objects.filter(rule_id="CVE-2024-9").values_list("status", flat=True)) == {
        "open"
    }
    member = make_member(team)
    response = owner_api.post(
        "/api/v1/findings/groups/assign",
        {"rule_ids": ["CVE-2024-9"], "assignee": member.pk}, format="json",
    )  # fmt: skip
    assert response.json()["changed"] == 2
    assert FindingState.objects.filter(team=team, assignee=member).count() == 2
    listed = owner_api.get("/api/v1/findings/groups?status=open").json()
    assert [g["rule_id"] for g in listed["results"]] == ["CVE-2024-9"]
    assert listed["results"][0]["packages"] == 2 and listed["next"] is None


def test_the_groups_api_refuses_bad_filters_and_unknown_fields(owner_api: Any) -> None:
    response = owner_api.get("/api/v1/findings/groups?severity=urgent")
    assert response.status_code == 400 and "severity" in response.json()["errors"]
    response = owner_api.post(
        "/api/v1/findings/groups/triage", {"rule_ids": [], "status": "open"}, format="json"
    )
    assert response.status_code == 400
    response = owner_api.post(
        "/api/v1/findings/groups/triage",
        {"rule_ids": ["x"], "status": "accepted", "comment": "because"}, format="json",
    )  # fmt: skip
    assert response.status_code == 400 and "accepted_until" in response.json()["errors"]
