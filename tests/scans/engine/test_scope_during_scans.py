"""Scope is checked again before every step and for everything a step discovers."""

from __future__ import annotations

from typing import Any

import pytest

from scans.models import ScanLog, ScanStep
from scans.services import scan_start
from tests.scanning import wait_scan_done

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_redirect_to_another_host_is_never_followed(
    worker: Any, user: Any, team: Any, authorize: Any, make_workflow: Any, make_http_server: Any
) -> None:
    elsewhere = make_http_server()
    # "localhost" is the same machine, but it is not an authorized target: it must not be touched.
    entry = make_http_server(redirect_to=f"http://localhost:{elsewhere.port}/admin")
    target = authorize(entry.url)
    workflow = make_workflow([{"id": "web", "type": "http_probe", "config": {"schemes": "http"}}])

    scan = wait_scan_done(
        scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True).pk
    )

    assert scan.status == "completed", scan.error
    assert entry.hits == ["/"]
    assert elsewhere.hits == []
    messages = " ".join(ScanLog.objects.filter(scan=scan).values_list("message", flat=True))
    assert f"localhost:{elsewhere.port}" in messages


def test_items_that_left_scope_are_dropped_before_the_next_step(
    worker: Any, user: Any, team: Any, authorize: Any, make_workflow: Any, http_server: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow(
        [
            {"id": "ports", "type": "port_scan", "config": {"ports": str(http_server.port)}},
            {"id": "web", "type": "http_probe", "config": {"schemes": "http"}},
        ],
        edges=[("ports", "web")],
    )
    # The service is discovered in scope, but an exclusion for the host is added before the
    # probe step runs: the probe must drop it. (An exclusion beats any inclusion.)
    scan = scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)
    ScanStep.objects.filter(scan=scan, node_id="web").update(status="cancelled")  # hold it back
    wait_scan_done(scan.pk)
    ports = ScanStep.objects.get(scan=scan, node_id="ports")
    assert ports.items_out == 1
    authorize("127.0.0.1/32", excluded=True)

    from scans.engine.step import step_run

    ScanStep.objects.filter(scan=scan, node_id="web").update(
        status="queued", error="", finished_at=None
    )
    step_run(ScanStep.objects.get(scan=scan, node_id="web").pk)

    web = ScanStep.objects.get(scan=scan, node_id="web")
    assert web.status == "skipped"
    assert web.out_of_scope and web.out_of_scope[0]["value"] == f"127.0.0.1:{http_server.port}/tcp"
    assert "exclu" in web.out_of_scope[0]["reason"].lower()
    assert http_server.hits == []
