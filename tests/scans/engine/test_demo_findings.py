"""Demo findings (issue #20): a demo scan stores its synthetic findings as demo findings of the
scan, so its logic nodes branch on them and its findings page and API list them badged, while
the team's findings, dashboard, metrics, triage and the real scans that follow never meet them.
On a real worker cluster, with a real HTTP server on 127.0.0.1 for the real scan."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from scans.findings.diff import scan_diff, scan_previous
from scans.models import Finding, FindingEvent, FindingState, Scan, ScanStep
from scans.reports.dashboard import open_findings_refresh
from scans.reports.metrics import _block
from scans.services import scan_start
from tests.scanning import wait_scan_done

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _branching_workflow(make_workflow: Any) -> Any:
    """An HTTP probe whose findings (a demo's: one low per URL) pass a `low` condition and stop
    at a `high` one; each condition leads to a delay."""
    return make_workflow(
        [
            {"id": "web", "type": "http_probe", "config": {}},
            {"id": "low", "type": "condition", "config": {"min_severity": "low"}},
            {"id": "high", "type": "condition", "config": {"min_severity": "high"}},
            {"id": "after_low", "type": "delay", "config": {"seconds": 1}},
            {"id": "after_high", "type": "delay", "config": {"seconds": 1}},
        ],
        [("web", "low"), ("web", "high"), ("low", "after_low"), ("high", "after_high")],
        name="branching",
    )


def _start(team: Any, user: Any, workflow: Any, target: Any, mode: str) -> Scan:
    scan = scan_start(
        team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True, mode=mode
    )
    return wait_scan_done(scan.pk, timeout_s=60)


def _figures(team: Any) -> tuple[Any, ...]:
    """What the team's home page and metrics count, recomputed from the tables."""
    day = open_findings_refresh(team.pk)
    block = _block(team)
    listed = Finding.objects.filter(team=team, is_latest=True).count()
    return (day.counts if day else {}, block["scans"], block["open_findings"], listed)


def test_a_demo_stores_badged_findings_that_its_logic_nodes_branch_on_and_nothing_counts(
    worker_cluster: Any, user: Any, team: Any, authorize: Any, make_workflow: Any,
    make_http_server: Any, owner_api: Any,
) -> None:  # fmt: skip
    server = make_http_server()
    target = authorize(server.url)
    workflow = _branching_workflow(make_workflow)
    worker_cluster.start()
    before = _figures(team)

    demo = _start(team, user, workflow, target, Scan.Mode.DEMO)
    assert demo.status == "completed", demo.error
    assert server.hits == []  # a demo touches nothing

    # The synthetic findings are rows of the demo scan, marked demo, never anyone's latest.
    rows = list(Finding.objects.filter(scan=demo))
    assert rows and all(r.is_demo and not r.is_latest and "demo" in r.tags for r in rows)
    assert {r.severity for r in rows} == {"low"}
    # The logic nodes ran on them: `low` passed them on, `high` stopped, its branch skipped.
    steps = {s.node_id: s for s in ScanStep.objects.filter(scan=demo)}
    assert set(steps["low"].output_findings) == {r.fingerprint for r in rows}
    assert steps["high"].output_findings == [] and steps["high"].output_items == []
    assert steps["after_low"].status == "completed"
    assert steps["after_high"].status == "skipped"

    # Listed, badged, on the demo scan's page and in its API; nowhere else.
    member = Client()
    member.force_login(user)
    page = member.get(f"/scans/{demo.pk}/findings").content.decode()
    assert rows[0].title in page and 'class="badge warn"' in page and ">demo</span>" in page
    detail = member.get(f"/findings/{rows[0].pk}/").content.decode()
    assert "Demo finding" in detail and 'name="status"' not in detail
    assert "a demo finding has no deadline" in detail
    listed = owner_api.get(f"/api/v1/scans/{demo.pk}/findings").json()["results"]
    assert listed and all(f["is_demo"] and f["due_at"] is None for f in listed)
    assert owner_api.get(f"/api/v1/findings?scan={demo.pk}").json()["count"] == len(rows)
    assert all(not f["is_demo"] for f in owner_api.get("/api/v1/findings").json()["results"])
    assert _figures(team) == before
    # Nor can they be sent to a channel by hand.
    sent = owner_api.post(f"/api/v1/scans/{demo.pk}/notify", {"integration": 1}, format="json")
    assert sent.status_code == 400 and "scan" in sent.json()["errors"]

    # Triage does not reach a demo finding: no state, no history, nothing counted.
    answer = owner_api.post(
        "/api/v1/findings/triage", {"ids": [r.pk for r in rows], "status": "fixed"}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["changed"] == 0
    assert not FindingState.objects.filter(team=team).exists()
    assert not FindingEvent.objects.filter(team=team).exists()

    # A real scan of the same workflow and target afterwards: its own findings, first seen by
    # it, open, compared with no earlier scan (the demo is not one), and the demo untouched.
    real = _start(team, user, workflow, target, Scan.Mode.RUN)
    assert real.status == "completed", real.error
    found = list(Finding.objects.filter(scan=real))
    assert found and all(not f.is_demo and f.is_latest for f in found)
    assert all(f.status == "open" and f.first_seen_at >= real.created_at for f in found)
    assert scan_previous(real) is None and scan_previous(demo) is None
    assert sorted(scan_diff(real).new) == sorted(f.fingerprint for f in found)
    assert not {f.fingerprint for f in found} & {r.fingerprint for r in rows}
    states = FindingState.objects.filter(team=team)
    assert sorted(states.values_list("fingerprint", flat=True)) == sorted(
        f.fingerprint for f in found
    )
    assert not FindingEvent.objects.filter(team=team).exists()  # nothing reopened or closed
    assert all(not r.is_latest for r in Finding.objects.filter(scan=demo))
    day, scans_counted, open_findings, latest = _figures(team)
    assert scans_counted == before[1] + 1 and latest == len(found)
    assert sum(open_findings.values()) == sum(day.values()) == len(found)
