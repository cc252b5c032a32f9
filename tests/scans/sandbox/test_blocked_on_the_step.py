"""A scan's step that ran in the sandbox: what the tool tried beyond its scope is recorded on the
step (its log, the API, the scan page), and nothing it "found" there becomes a finding."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from scans.engine.step import step_run
from scans.models import Finding, ScanLog, ScanStep
from scans.services import scan_start
from tests.sandbox_lab import ADDRESS_A, ADDRESS_B, ZONE, Lab

pytestmark = [pytest.mark.django_db(transaction=True)]


def run_wander(scope_lab: Lab, settings: Any, user: Any, team: Any, authorize: Any,
               make_workflow: Any) -> ScanStep:  # fmt: skip
    settings.SCOPE_DNS_UPSTREAM = [scope_lab.nameserver]
    authorize(f"*.{ZONE}")
    target = authorize(f"http://{ADDRESS_A}:8080/")
    also = f"http://{ADDRESS_B}:8080/direct http://{ADDRESS_A}:8080/go http://x1.wild.{ZONE}:8080/"
    workflow = make_workflow([{"id": "roam", "type": "wander", "config": {"also": also}}])
    scan = scan_start(team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True)
    step = ScanStep.objects.get(scan=scan, node_id="roam")
    step_run(step.pk)
    step.refresh_from_db()
    return step


def test_the_step_records_what_its_sandbox_refused(
    wander: str, scope_lab: Lab, settings: Any, user: Any, team: Any, authorize: Any,
    make_workflow: Any, owner_api: APIClient, client: Client,
) -> None:  # fmt: skip
    step = run_wander(scope_lab, settings, user, team, authorize, make_workflow)

    assert step.status == "completed", step.error
    assert step.scope_enforcement == "network"
    assert step.blocked == [{"address": ADDRESS_B, "proto": "tcp", "port": 8080, "count": 2}]
    assert scope_lab.b.requests() == []
    assert sorted(scope_lab.a.requests()) == ["8080 /", "8080 /go"]
    log = list(ScanLog.objects.filter(step=step).values_list("message", flat=True))
    assert f"roam: 2 connections to {ADDRESS_B}:8080/tcp were blocked: out of scope" in log
    assert (
        f"roam: DNS: x1.wild.{ZONE} not answered: it resolves to {ADDRESS_B}, out of scope" in log
    )
    # The tool claimed a result about B; it is not a finding.
    locations = set(Finding.objects.filter(scan=step.scan).values_list("location", flat=True))
    assert f"http://{ADDRESS_B}:8080/direct" not in locations
    assert f"http://{ADDRESS_A}:8080/" in {loc.rstrip("/") + "/" for loc in locations}

    api = owner_api.get(f"/api/v1/scans/{step.scan_id}").json()
    [shown] = [s for s in api["steps"] if s["node_id"] == "roam"]
    assert shown["scope_enforcement"] == "network"
    assert shown["blocked"] == step.blocked

    client.force_login(user)
    page = client.get(f"/scans/{step.scan_id}/").content.decode()
    assert "Network fenced to scope" in page
    assert f"2 connections to {ADDRESS_B}:8080/tcp were blocked: out of scope" in page


def test_with_enforcement_off_the_same_step_reaches_b_and_says_so(
    wander: str, scope_lab: Lab, settings: Any, user: Any, team: Any, authorize: Any,
    make_workflow: Any,
) -> None:  # fmt: skip
    settings.SCOPE_ENFORCEMENT = "off"

    step = run_wander(scope_lab, settings, user, team, authorize, make_workflow)

    assert step.status == "completed", step.error
    assert step.scope_enforcement == "scope enforcement is off (SCOPE_ENFORCEMENT=off)"
    assert step.blocked == []
    assert "8080 /direct" in scope_lab.b.requests()
