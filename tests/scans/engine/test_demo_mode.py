"""Demo mode (issue #20, the seed's "run a workflow without executing real tools"): a demo of
each built-in template walks the real graph on a real worker cluster in seconds, with plausible
items and findings marked demo, no tool and no network, and nothing counted: its findings are
demo rows of the demo scan only (tests/scans/engine/test_demo_findings.py), no inventory, no
dashboard or metrics."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from scans.models import Asset, Finding, FindingState, Scan, ScanStep
from scans.reports.dashboard import dashboard_for
from scans.reports.metrics import _block
from scans.services import scan_start
from tests.scanning import wait_scan_done
from workflows.graph import graph_entries
from workflows.services import workflow_create_from_template
from workflows.templates import TEMPLATES

# smoke: the CI pass on the embedded default (SQLite, ORM broker, local executor) is `make run`.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]

DEMO_WITHIN_S = 10
ITEM_KIND = {"domain": "host", "ip": "host", "url": "url", "image": "image"}


def test_a_demo_of_every_built_in_template_completes_within_seconds_and_counts_nothing(
    worker_cluster: Any, user: Any, team: Any, authorize: Any, make_http_server: Any
) -> None:
    server = make_http_server()  # would record any request a step made
    candidates = [
        authorize("demo.example.test"),
        authorize("127.0.0.1"),
        authorize(server.url),
        authorize("nginx:1.25", kind="image"),
    ]
    worker_cluster.start()
    timings: dict[str, float] = {}
    for key in TEMPLATES:
        workflow = workflow_create_from_template(team=team, user=user, template_key=key)
        entries = graph_entries(workflow.graph)
        targets = [t for t in candidates if entries[ITEM_KIND[t.kind]]]
        started = time.monotonic()
        scan = scan_start(
            team=team, user=user, workflow=workflow, target_ids=[t.pk for t in targets],
            consent=True, mode=Scan.Mode.DEMO,
        )  # fmt: skip
        scan = wait_scan_done(scan.pk, timeout_s=60)
        timings[key] = time.monotonic() - started
        assert scan.status == "completed", (key, scan.error)
        steps = list(ScanStep.objects.filter(scan=scan))
        assert all(s.status in ("completed", "skipped") for s in steps), key
        assert all(not s.commands or s.commands[0]["argv"][0].startswith("demo:") for s in steps)
        shown = [s for s in steps if s.findings_count]
        assert shown, f"{key}: no synthetic finding"
        assert all("[demo]" in s.stdout_tail for s in shown)
    print("demo run times (s):", {k: round(v, 2) for k, v in timings.items()})
    assert max(timings.values()) < DEMO_WITHIN_S, timings
    # Nothing touched the network; only demo findings were stored, and nothing was counted.
    assert server.hits == []
    assert Finding.objects.filter(team=team, is_demo=True).exists()
    assert not Finding.objects.filter(team=team, is_demo=False).exists()
    assert not Finding.objects.filter(team=team, is_latest=True).exists()
    assert not FindingState.objects.filter(team=team).exists()
    assert not Asset.objects.filter(team=team).exists()
    assert dashboard_for(team).recent == []
    assert _block(team)["scans"] == 0


def test_the_api_starts_a_demo_with_mode_demo(
    owner_api: APIClient, authorize: Any, make_workflow: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}])
    answer = owner_api.post(
        "/api/v1/scans",
        {
            "workflow": workflow.pk,
            "targets": [target.pk],
            "authorize_targets": True,
            "mode": "demo",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["mode"] == "demo"
    refused = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": True, "mode": "x"},
        format="json",
    )
    assert refused.status_code == 400 and "mode" in refused.json()["errors"]
