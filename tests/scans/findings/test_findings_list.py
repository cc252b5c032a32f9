"""GET /api/v1/findings and the /findings/ page: one row per finding across scans, filters,
sorts, capped counting, a constant number of queries, and the scan diff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scans.engine.runtime import SEVERITY_RANK
from scans.findings.queries import CappedPaginator, findings_for_team
from tests.scans.findings.factories import realistic_findings, severity_mix

pytestmark = pytest.mark.django_db


def test_across_scans_each_finding_is_listed_once(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    data = realistic_findings(30)
    make_scan(data)
    latest = make_scan(data[:20] + realistic_findings(5, seed=42))
    body = owner_api.get("/api/v1/findings?page_size=100").json()
    assert body["count"] == 35 and body["count_is_exact"] is True
    assert len({row["fingerprint"] for row in body["results"]}) == 35
    seen_twice = {f.fingerprint for f in data[:20]}
    assert all(
        row["scan"] == latest.pk for row in body["results"] if row["fingerprint"] in seen_twice
    )


def test_filters_narrow_the_list(make_scan: Callable[..., Any], owner_api: Any) -> None:
    data = realistic_findings(80)
    scan = make_scan(data)
    mix = severity_mix(data)
    high = owner_api.get("/api/v1/findings?severity=high&page_size=500").json()
    assert high["count"] == mix["high"]
    assert {r["severity"] for r in high["results"]} == {"high"}
    both = owner_api.get("/api/v1/findings?severity=high,critical").json()
    assert both["count"] == mix["high"] + mix["critical"]
    assert owner_api.get("/api/v1/findings?tool=gitleaks").json()["count"] == 20
    rule = data[1].rule_id
    by_rule = owner_api.get(f"/api/v1/findings?rule_id={rule}").json()
    assert by_rule["count"] == sum(1 for f in data if f.rule_id == rule)
    assert owner_api.get(f"/api/v1/findings?asset={data[3].item}").json()["count"] == sum(
        1 for f in data if f.item == data[3].item
    )
    text = owner_api.get("/api/v1/findings?q=settings_6.py").json()
    assert [r["location"].split(":")[0] for r in text["results"]] == ["src/config/settings_6.py"]
    assert owner_api.get(f"/api/v1/findings?scan={scan.pk}").json()["count"] == 80
    assert owner_api.get("/api/v1/findings?status=accepted").json()["count"] == 0
    future = owner_api.get("/api/v1/findings?first_seen_after=2999-01-01T00:00:00Z").json()
    assert future["count"] == 0


def test_sorting_worst_first_and_by_last_seen(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    make_scan(60)
    rows = owner_api.get("/api/v1/findings?page_size=100").json()["results"]
    ranks = [SEVERITY_RANK[r["severity"]] for r in rows]
    assert ranks == sorted(ranks, reverse=True)
    rows = owner_api.get("/api/v1/findings?sort=severity&page_size=100").json()["results"]
    assert [SEVERITY_RANK[r["severity"]] for r in rows] == sorted(ranks)
    rows = owner_api.get("/api/v1/findings?sort=-last_seen&page_size=100").json()["results"]
    assert [r["last_seen_at"] for r in rows] == sorted(
        (r["last_seen_at"] for r in rows), reverse=True
    )


def test_bad_filters_are_400_not_500(owner_api: Any) -> None:
    for query in (
        "severity=urgent",
        "sort=title; drop",
        "first_seen_after=yesterday",
        "scan=-1",
        "page=abc",
    ):
        response = owner_api.get(f"/api/v1/findings?{query}")
        assert response.status_code in (400, 404), (query, response.status_code)
        assert "detail" in response.json()


def test_the_list_runs_a_constant_number_of_queries(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    make_scan(10)
    owner_api.get("/api/v1/findings")  # the key's first use is audited once
    with CaptureQueriesContext(connection) as small:
        assert owner_api.get("/api/v1/findings?severity=high&sort=-last_seen").status_code == 200
    make_scan(realistic_findings(200, seed=3))
    with CaptureQueriesContext(connection) as large:
        assert owner_api.get("/api/v1/findings?severity=high&sort=-last_seen").status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_findings_pages_run_a_constant_number_of_queries(
    make_scan: Callable[..., Any], client: Any, user: Any
) -> None:
    """The rows' deferred columns (texts, JSON lists) are never read one row at a time."""
    small_scan = make_scan(10)
    client.force_login(user)
    pages = ("/findings/?status=open", "/findings/?view=groups", f"/scans/{small_scan.pk}/findings")
    counts = {}
    for url in pages:
        client.get(url)
        with CaptureQueriesContext(connection) as small:
            assert client.get(url).status_code == 200
        counts[url] = len(small.captured_queries)
    large_scan = make_scan(realistic_findings(200, seed=3))
    for url in pages:
        url = url.replace(f"/scans/{small_scan.pk}/", f"/scans/{large_scan.pk}/")
        with CaptureQueriesContext(connection) as large:
            assert client.get(url).status_code == 200
        assert len(large.captured_queries) <= max(counts.values()), url


def test_counting_stops_at_the_cap(make_scan: Callable[..., Any], team: Any) -> None:
    make_scan(30)
    paginator = CappedPaginator(findings_for_team(team), 10)
    paginator.cap = 25
    assert paginator.count == 26 and not paginator.is_exact
    assert paginator.num_pages == 3


def test_the_scan_diff_lists_new_fixed_and_still_open(
    make_scan: Callable[..., Any], owner_api: Any
) -> None:
    data = realistic_findings(12)
    first = make_scan(data[:8])
    second = make_scan(data[3:12])
    body = owner_api.get(f"/api/v1/scans/{second.pk}/diff").json()
    assert body["previous_scan"] == first.pk
    assert body["counts"] == {"new": 4, "fixed": 3, "still_open": 5}
    assert {r["fingerprint"] for r in body["fixed"]} == {f.fingerprint for f in data[:3]}


def test_the_findings_page_filters_and_triages_in_bulk(
    make_scan: Callable[..., Any], client: Any, user: Any
) -> None:
    scan = make_scan(40)
    client.force_login(user)
    page = client.get("/findings/?severity=high")
    assert page.status_code == 200
    assert b"Findings" in page.content and b'name="ids"' in page.content
    ids = [f.pk for f in scan.findings.filter(severity="high")]
    response = client.post(
        "/findings/triage",
        {"ids": ids, "status": "false_positive", "comment": "scanner bug", "next": "severity=high"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert f"{len(ids)} finding(s) marked false positive".encode() in response.content
    assert scan.findings.filter(status="false_positive").count() == len(ids)
    detail = client.get(f"/findings/{ids[0]}/")
    assert detail.status_code == 200 and b"scanner bug" in detail.content


def test_the_scan_page_shows_the_diff_panel(
    make_scan: Callable[..., Any], client: Any, user: Any
) -> None:
    data = realistic_findings(6)
    make_scan(data[:4])
    second = make_scan(data[2:])
    client.force_login(user)
    assert b'id="diff"' in client.get(f"/scans/{second.pk}/").content
    panel = client.get(f"/scans/{second.pk}/diff").content.decode()
    assert "New" in panel and "Fixed" in panel and "Still open" in panel


def test_a_list_judged_far_past_the_cap_is_not_estimated_again_for_a_minute(
    require_postgres: None, make_scan: Callable[..., Any], team: Any, monkeypatch: Any
) -> None:
    from scans.findings import queries

    make_scan(60)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scans_finding")
    monkeypatch.setattr(queries, "_PAST_CAP", {})

    def counted(cap: int, **filters: Any) -> tuple[int, list[str]]:
        paginator = CappedPaginator(findings_for_team(team, **filters), 10)
        paginator.cap = cap
        with CaptureQueriesContext(connection) as captured:
            count = paginator.count
        return count, [q["sql"].split()[0] for q in captured.captured_queries]

    assert counted(3) == (4, ["EXPLAIN"])  # 60 rows estimated: far past 4 x 3
    assert counted(3) == (4, [])  # the verdict, reused
    assert counted(3, severity=["critical"])[1][0] == "EXPLAIN"  # another list is asked
    assert counted(50)[1][0] == "EXPLAIN"  # so is another cap (estimate 60: counted)
    monkeypatch.setattr(queries, "PAST_CAP_SECONDS", -1.0)
    queries._PAST_CAP.clear()
    assert counted(3) == (4, ["EXPLAIN"]) and counted(3) == (4, ["EXPLAIN"])  # expired at once


def test_the_rows_print_each_finding_escaped_on_both_lists(
    make_scan: Callable[..., Any], client: Any, user: Any
) -> None:
    from scans.engine.runtime import FindingData

    hostile = FindingData(
        tool="nuclei", severity="critical", title='<script>alert("t")</script> & co',
        rule_id="CVE-2024-0001<b>", component="lib<i>", version="1.0", fixed_version="1.1\"x",
        location="http://127.0.0.1:8080/?q=<img src=x>", cvss_v3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        is_kev=True,
    )  # fmt: skip
    scan = make_scan([hostile])
    finding = scan.findings.get()
    client.force_login(user)
    listed = client.get("/findings/?severity=critical").content.decode()
    on_scan = client.get(f"/scans/{scan.pk}/findings").content.decode()
    for page in (listed, on_scan):
        assert "<script>" not in page and "<img src=x>" not in page and "lib<i>" not in page
        assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt; &amp; co" in page
        assert f'<a href="/findings/{finding.pk}/">' in page
        assert '<code class="muted">CVE-2024-0001&lt;b&gt;</code>' in page
        assert '<span class="sev sev-critical">critical</span>' in page
        assert "CVSS 9.8</span>" in page and ">KEV</span>" in page
        assert "fix 1.1&quot;x</span>" in page
        assert '<span class="tstatus tstatus-open">Open</span>' in page
    assert (
        "lib&lt;i&gt; 1.0 → 1.1&quot;x" in listed
        and f'<a href="/scans/{scan.pk}/">#{scan.pk}</a>' in listed
    )
    assert f'name="ids" value="{finding.pk}"' in listed
    assert '<td data-label="Tool">nuclei</td>' in on_scan
