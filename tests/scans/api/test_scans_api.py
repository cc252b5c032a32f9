"""The scans API without a worker: starting rules, filters, tenancy, roles, formats, deletion."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from accounts.models import Role, Team
from scans.imports.services import scan_import
from scans.models import Artifact, Scan, ScanStep
from targets.services import target_create
from tests.scanning import SCANNER_OUTPUTS
from workflows.services import workflow_create

pytestmark = [pytest.mark.django_db]

SAMPLES = SCANNER_OUTPUTS


@pytest.fixture
def ports_workflow(make_workflow: Any) -> Any:
    return make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}])


def _start(client: Any, workflow: Any, targets: list[int], **extra: Any) -> Any:
    body = {"workflow": workflow.pk, "targets": targets, "authorize_targets": True, **extra}
    return client.post("/api/v1/scans", body, format="json")


def test_it_refuses_bad_input_with_a_clear_detail(
    owner_api: Any, ports_workflow: Any, authorize: Any
) -> None:
    target = authorize("127.0.0.1")
    cases = [
        ({"workflow": ports_workflow.pk, "targets": [target.pk]}, "authorize_targets"),
        (
            {
                "workflow": ports_workflow.pk,
                "targets": [target.pk],
                "authorize_targets": True,
                "colour": "red",
            },
            "colour",
        ),
        ({"workflow": "one", "targets": [target.pk], "authorize_targets": True}, "workflow"),
        ({"workflow": ports_workflow.pk, "targets": [], "authorize_targets": True}, "targets"),
        (
            {"workflow": ports_workflow.pk, "targets": [999999], "authorize_targets": True},
            "targets",
        ),
        ({"workflow": 999999, "targets": [target.pk], "authorize_targets": True}, "workflow"),
    ]
    for body, field in cases:
        answer = owner_api.post("/api/v1/scans", body, format="json")
        assert answer.status_code == 400, (body, answer.content)
        assert field in answer.json()["errors"], answer.json()
        assert answer.json()["detail"]
    assert (
        owner_api.post("/api/v1/scans", "[1, 2]", content_type="application/json").status_code
        == 400
    )
    assert Scan.objects.count() == 0


def test_an_exclusion_or_an_expired_authorization_refuses_the_scan_with_the_reason(
    owner_api: Any, ports_workflow: Any, authorize: Any
) -> None:
    target = authorize("10.0.0.0/30")
    authorize("10.0.0.2", excluded=True)
    answer = _start(owner_api, ports_workflow, [target.pk])
    assert answer.status_code == 400
    reasons = " ".join(answer.json()["errors"]["targets"])
    assert "10.0.0.2" in reasons and "exclu" in reasons.lower()
    assert Scan.objects.count() == 0


def test_another_teams_scans_workflows_and_targets_are_invisible(
    owner_api: Any, make_user: Any, issue_key: Any, api: Any, ports_workflow: Any, authorize: Any
) -> None:
    target = authorize("127.0.0.1")
    scan_id = _start(owner_api, ports_workflow, [target.pk], dry_run=True).json()["id"]
    stranger = make_user("stranger@example.test")
    their_team = Team.objects.get(personal_owner=stranger)
    theirs = api(issue_key(stranger, their_team).raw_key)

    for path in (
        f"/api/v1/scans/{scan_id}",
        f"/api/v1/scans/{scan_id}/logs",
        f"/api/v1/scans/{scan_id}/findings",
        f"/api/v1/scans/{scan_id}/diff",
    ):
        assert theirs.get(path).status_code == 404, path
    assert theirs.post(f"/api/v1/scans/{scan_id}/cancel").status_code == 404
    assert theirs.delete(f"/api/v1/scans/{scan_id}").status_code == 404
    assert theirs.get("/api/v1/scans").json()["count"] == 0
    # their own workflow on our target id: the target is unknown to them
    their_workflow = workflow_create(
        team=their_team, user=stranger, name="w", graph=ports_workflow.graph
    )
    answer = _start(theirs, their_workflow, [target.pk])
    assert answer.status_code == 400 and "Unknown target" in answer.json()["errors"]["targets"][0]


def test_a_viewer_reads_scans_but_cannot_start_cancel_or_delete_them(
    owner_api: Any,
    user: Any,
    team: Any,
    make_member: Any,
    issue_key: Any,
    api: Any,
    ports_workflow: Any,
    authorize: Any,
) -> None:
    target = authorize("127.0.0.1")
    scan_id = _start(owner_api, ports_workflow, [target.pk], dry_run=True).json()["id"]
    viewer = api(issue_key(make_member(team, Role.VIEWER), team).raw_key)

    assert viewer.get(f"/api/v1/scans/{scan_id}").status_code == 200
    assert _start(viewer, ports_workflow, [target.pk]).status_code == 403
    assert viewer.post(f"/api/v1/scans/{scan_id}/cancel").status_code == 403
    assert viewer.delete(f"/api/v1/scans/{scan_id}").status_code == 403


def test_the_list_filters_and_paginates(
    owner_api: Any, ports_workflow: Any, authorize: Any, make_workflow: Any
) -> None:
    one = authorize("127.0.0.1")
    two = authorize("::1")
    other = make_workflow([{"id": "names", "type": "dns_resolve", "config": {}}], name="names")
    for _ in range(3):
        _start(owner_api, ports_workflow, [one.pk], dry_run=True)
    _start(owner_api, other, [two.pk], dry_run=True)

    everything = owner_api.get("/api/v1/scans?page_size=2").json()
    assert everything["count"] == 4 and len(everything["results"]) == 2 and everything["next"]
    assert owner_api.get(f"/api/v1/scans?workflow={other.pk}").json()["count"] == 1
    assert owner_api.get(f"/api/v1/scans?target={one.pk}").json()["count"] == 3
    assert owner_api.get("/api/v1/scans?status=completed").json()["count"] == 4
    assert owner_api.get("/api/v1/scans?status=running").json()["count"] == 0
    assert (
        owner_api.get("/api/v1/scans?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z").json()[
            "count"
        ]
        == 4
    )
    for bad in ("status=stuck", "workflow=abc", "since=yesterday", "target=-1"):
        answer = owner_api.get(f"/api/v1/scans?{bad}")
        assert answer.status_code == 400, bad
        assert answer.json()["detail"]


def test_a_pending_scan_can_be_cancelled_and_a_finished_one_cannot(
    owner_api: Any, ports_workflow: Any, authorize: Any
) -> None:
    target = authorize("127.0.0.1")
    scan = _start(owner_api, ports_workflow, [target.pk]).json()  # no worker runs in this test
    assert scan["status"] in ("pending", "queued")
    cancelled = owner_api.post(f"/api/v1/scans/{scan['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert ScanStep.objects.get(scan_id=scan["id"]).status == "cancelled"
    assert owner_api.post(f"/api/v1/scans/{scan['id']}/cancel").status_code == 409


def test_formats_and_logs(owner_api: Any, ports_workflow: Any, authorize: Any) -> None:
    target = authorize("127.0.0.1")
    scan_id = _start(owner_api, ports_workflow, [target.pk], dry_run=True).json()["id"]
    table = owner_api.get(f"/api/v1/scans/{scan_id}?format=table")
    assert table.status_code == 200 and table["Content-Type"].startswith("text/plain")
    assert f"Scan #{scan_id}" in table.content.decode()
    assert owner_api.get(f"/api/v1/scans/{scan_id}?format=xml").status_code == 400
    logs = owner_api.get(f"/api/v1/scans/{scan_id}/logs").json()
    assert logs["count"] >= 1 and "dry run" in logs["results"][-1]["message"]


def test_deleting_a_scan_removes_its_artifact_files(owner_api: Any, user: Any, team: Any) -> None:
    report = (SAMPLES / "trivy" / "scheme_2_many_vulns.json").read_bytes()
    scan = scan_import(team=team, user=user, tool="trivy", data=report, filename="trivy.json")
    artifact = Artifact.objects.get(scan=scan)
    path = settings.ARTIFACTS_DIR / artifact.path
    assert path.read_bytes() == report

    assert owner_api.delete(f"/api/v1/scans/{scan.pk}").status_code == 204
    assert not path.exists()
    assert not Scan.objects.filter(pk=scan.pk).exists()


def test_a_running_scan_cannot_be_deleted(
    owner_api: Any, ports_workflow: Any, authorize: Any
) -> None:
    target = authorize("127.0.0.1")
    scan_id = _start(owner_api, ports_workflow, [target.pk]).json()["id"]
    Scan.objects.filter(pk=scan_id).update(status="running")
    answer = owner_api.delete(f"/api/v1/scans/{scan_id}")
    assert answer.status_code == 409 and "cancel" in answer.json()["detail"]


def test_targets_from_a_cidr_are_each_checked(
    owner_api: Any, ports_workflow: Any, user: Any, team: Any
) -> None:
    cidr = target_create(team=team, user=user, value="127.0.0.0/30")
    plan = _start(owner_api, ports_workflow, [cidr.pk], dry_run=True).json()["plan"]
    assert [v["value"] for v in plan["scope"]] == [
        "127.0.0.0",
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.3",
    ] or len(plan["scope"]) in (2, 4)
