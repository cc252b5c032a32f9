"""The must-show end-to-end scan: "Quick recon" through the API on a real worker, against a local
HTTP server on 127.0.0.1. In CI it runs on PostgreSQL + Redis and again on the embedded default
(SQLite, ORM broker, local executor) in the smoke pass."""

from __future__ import annotations

from typing import Any

import pytest

from scans.models import Asset, Finding, ScanStep
from tests.scanning import wait_scan_done
from workflows.services import workflow_create_from_template, workflow_update

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]


def _quick_recon_on_port(user: Any, team: Any, port: int) -> Any:
    workflow = workflow_create_from_template(team=team, user=user, template_key="quick-recon")
    graph = workflow.graph
    for node in graph["nodes"]:
        if node["type"] == "port_scan":
            node["config"]["ports"] = str(port)
        if node["type"] == "http_probe":
            node["config"]["schemes"] = "http"
    return workflow_update(workflow=workflow, user=user, revision=workflow.revision, graph=graph)


def test_quick_recon_finds_the_port_the_web_server_and_missing_headers(
    worker: Any, owner_api: Any, user: Any, team: Any, authorize: Any, http_server: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = _quick_recon_on_port(user, team, http_server.port)

    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": True},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    scan = wait_scan_done(answer.json()["id"], timeout_s=120)

    steps = {s.node_id: s for s in ScanStep.objects.filter(scan=scan)}
    assert scan.status == "completed", (
        scan.error,
        {k: (s.status, s.error) for k, s in steps.items()},
    )
    service = f"127.0.0.1:{http_server.port}/tcp"
    url = f"http://127.0.0.1:{http_server.port}/"
    assert service in [i["value"] for i in steps["port-scan"].output_items]
    assert url in [i["value"] for i in steps["http-probe"].output_items]
    assert http_server.hits, "the HTTP server was really probed"

    findings = Finding.objects.filter(scan=scan, tool="http_probe")
    assert findings.exists()
    assert {f.location for f in findings} == {url}
    assert any("content-security-policy" in (f.rule_id + f.title).lower() for f in findings)

    inventory = set(Asset.objects.filter(team=team).values_list("kind", "value"))
    assert {("service", service), ("url", url)} <= inventory

    listed = owner_api.get(f"/api/v1/scans/{scan.pk}/findings").json()
    assert listed["count"] == findings.count()
    table = owner_api.get(f"/api/v1/scans/{scan.pk}?format=table")
    assert table.status_code == 200 and "http_probe" in table.content.decode()


def test_the_dry_run_plan_is_what_the_run_executes(
    worker: Any,
    owner_api: Any,
    user: Any,
    team: Any,
    authorize: Any,
    make_workflow: Any,
    http_server: Any,
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow(
        [
            {"id": "ports", "type": "port_scan", "config": {"ports": f"{http_server.port},1"}},
            {"id": "names", "type": "dns_resolve", "config": {}},
        ]
    )
    body = {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": True}

    dry = owner_api.post("/api/v1/scans", {**body, "dry_run": True}, format="json").json()
    assert dry["mode"] == "dry_run" and dry["status"] == "completed"
    assert all(step["status"] == "skipped" for step in dry["steps"])
    planned = {step["node_id"]: step["commands"] for step in dry["plan"]["steps"]}
    assert dry["plan"]["scope"] == [
        {
            "kind": "host",
            "value": "127.0.0.1",
            "in_scope": True,
            "reason": dry["plan"]["scope"][0]["reason"],
        }
    ]

    run = owner_api.post("/api/v1/scans", body, format="json").json()
    scan = wait_scan_done(run["id"])
    executed = {step.node_id: step.commands for step in scan.steps.all()}

    assert planned["ports"] and planned["names"]
    assert executed == planned
