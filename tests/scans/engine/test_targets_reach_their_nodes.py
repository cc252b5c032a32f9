"""Targets reach the nodes that accept them, a target no node takes is refused at start with its
name, a step with nothing to do says why (with the counts), scans report their coverage, and
readiness and dry runs say which tool image is missing.

The must-show case: the "Web exposure" template (dns_resolve → port_scan → http_probe → nuclei,
and TLS inspection) on 127.0.0.1 and a URL of it, on a real worker with the Docker executor
(nuclei is a stand-in image, see tests/data/stand-ins/nuclei.sh): the URL reaches http_probe
and nuclei, and the scan covers it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scans.engine.step import StepInputs, nothing_to_do
from scans.models import Asset, ScanStep
from targets.items import Item
from tests.scanning import wait_scan_done
from tests.scans.tools.conftest import build_test_images
from workflows.nodes import get_node_type
from workflows.services import workflow_create_from_template, workflow_update

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def nuclei_stand_in(
    require_docker: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> Iterator[str]:
    """The nuclei stand-in image for this process and for the workers it starts (their
    environment is copied when the worker fixture starts)."""
    image = build_test_images()["nuclei"]
    monkeypatch.setenv("TOOL_IMAGE_NUCLEI", image)
    monkeypatch.setenv("TOOL_NETWORK_NUCLEI", "none")
    monkeypatch.setenv("SCAN_EXECUTOR", "docker")
    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "nuclei": image}
    yield image


def _web_exposure(user: Any, team: Any, port: int) -> Any:
    workflow = workflow_create_from_template(team=team, user=user, template_key="web-exposure")
    graph = workflow.graph
    for node in graph["nodes"]:
        if node["type"] == "port_scan":
            node["config"]["ports"] = str(port)
        if node["type"] == "http_probe":
            node["config"]["schemes"] = "http"
    return workflow_update(workflow=workflow, user=user, revision=workflow.revision, graph=graph)


def test_the_web_exposure_template_covers_a_url_target(
    nuclei_stand_in: str, worker_cluster: Any, owner_api: Any, user: Any, team: Any,
    authorize: Callable[..., Any], http_server: Any,
) -> None:  # fmt: skip
    worker_cluster.start()
    url = http_server.url  # http://127.0.0.1:PORT/
    targets = [authorize("127.0.0.1").pk, authorize(url).pk]
    workflow = _web_exposure(user, team, http_server.port)

    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": targets, "authorize_targets": True},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    plan = answer.json()["plan"]
    # The URL enters at http_probe (the first node that reads URLs), the address at dns_resolve.
    assert {n: [i["value"] for i in items] for n, items in plan["entries"].items()} == {
        "dns-resolve": ["127.0.0.1"],
        "http-probe": [url],
    }
    scan = wait_scan_done(answer.json()["id"], timeout_s=180)
    steps = {s.node_id: s for s in ScanStep.objects.filter(scan=scan)}
    assert scan.status == "completed", (
        scan.error,
        {k: (s.status, s.error) for k, s in steps.items()},
    )

    probe_argvs = [c["argv"][-1] for c in steps["http-probe"].commands]
    assert url in probe_argvs
    nuclei_targets = [c["argv"][c["argv"].index("-u") + 1] for c in steps["nuclei"].commands]
    assert url in nuclei_targets
    assert steps["nuclei"].status == "completed" and steps["nuclei"].findings_count >= 1

    detail = owner_api.get(f"/api/v1/scans/{scan.pk}").json()
    assert detail["coverage"]["state"] == "complete"
    covered = {t["value"]: (t["covered"], t["steps"]) for t in detail["coverage"]["targets"]}
    assert covered == {"127.0.0.1": (True, ["dns-resolve"]), url: (True, ["http-probe"])}
    # nuclei's matched URL, with the technology its tech-detect result names, is in the inventory.
    page = Asset.objects.get(team=team, kind="url", value=url)
    assert {"name": "python"} in page.attrs["technologies"]


def test_a_target_no_node_accepts_is_refused_at_start_with_its_name(
    owner_api: Any, make_workflow: Callable[..., Any], authorize: Callable[..., Any]
) -> None:
    workflow = make_workflow([{"id": "ports", "type": "port_scan"}])
    url = authorize("http://127.0.0.1:8538/")
    host = authorize("127.0.0.1")
    for dry_run in (False, True):
        answer = owner_api.post(
            "/api/v1/scans",
            {"workflow": workflow.pk, "targets": [host.pk, url.pk], "authorize_targets": True,
             "dry_run": dry_run},
            format="json",
        )  # fmt: skip
        assert answer.status_code == 400
        [message] = answer.json()["errors"]["targets"]
        assert message.startswith("http://127.0.0.1:8538/: no step of this workflow accepts url")
        assert "http_probe" in message and "nuclei" in message


def test_a_step_with_nothing_to_do_says_what_arrived() -> None:
    node = get_node_type("port_scan")
    step = ScanStep(node_id="ports", node_type="port_scan", parents=[])
    assert nothing_to_do(step, node, StepInputs()) == (
        "nothing to work on: no target of a kind it accepts (host) was given"
    )
    step.parents = ["dns"]
    assert (
        nothing_to_do(step, node, StepInputs())
        == "nothing to work on: dns handed on no items (host)"
    )
    dropped = [
        {"kind": "host", "value": f"10.9.9.{i}", "reason": "no target covers it"} for i in range(3)
    ]
    assert nothing_to_do(step, node, StepInputs(dropped=dropped)) == (
        "nothing to work on: all 3 input item(s) were out of scope (first: 10.9.9.0: no target covers it)"
    )
    urls = StepInputs(items=[Item("url", "http://127.0.0.1/")], dropped=dropped[:1])
    assert nothing_to_do(step, node, urls) == (
        "nothing to work on: 1 item(s) arrived (url), none of a kind it accepts (host); 1 more were out of scope"
    )


def test_a_url_only_scan_skips_the_name_resolver_and_says_why(
    owner_api: Any, user: Any, team: Any, authorize: Callable[..., Any], sync_tasks: None,
    http_server: Any, settings: Any,
) -> None:  # fmt: skip
    settings.SCAN_EXECUTOR = "local"
    workflow = workflow_create_from_template(team=team, user=user, template_key="quick-recon")
    target = authorize(http_server.url)
    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": True},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    scan = wait_scan_done(answer.json()["id"], timeout_s=60)
    steps = {s.node_id: s for s in scan.steps.all()}
    assert steps["dns-resolve"].status == "skipped"
    assert steps["dns-resolve"].error == (
        "nothing to work on: no target of a kind it accepts (host) was given"
    )
    assert steps["http-probe"].status == "completed"
    assert http_server.hits, "the URL was probed"
    coverage = owner_api.get(f"/api/v1/scans/{scan.pk}").json()["coverage"]
    assert coverage["state"] == "complete"


def test_readiness_and_dry_runs_name_the_missing_image(
    nuclei_stand_in: str, owner_api: Any, client: Any, user: Any, team: Any,
    authorize: Callable[..., Any], settings: Any,
) -> None:  # fmt: skip
    settings.SCAN_EXECUTOR = "docker"
    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "nuclei": "outpost-test/not-built:1"}
    workflow = _web_exposure(user, team, 8538)
    target = authorize("127.0.0.1")
    answer = owner_api.post(
        "/api/v1/scans",
        {
            "workflow": workflow.pk,
            "targets": [target.pk],
            "authorize_targets": True,
            "dry_run": True,
        },
        format="json",
    )
    assert answer.status_code == 201
    [check] = answer.json()["plan"]["images"]
    assert (check["node_id"], check["image"], check["executor"]) == (
        "nuclei",
        "outpost-test/not-built:1",
        "docker",
    )
    assert check["is_ready"] is False
    assert (
        "outpost-test/not-built:1 is not on the Docker engine and cannot be pulled"
        in check["detail"]
    )

    client.force_login(user)
    panel = client.get(f"/workflows/{workflow.pk}/readiness")
    assert panel.status_code == 200
    assert b"outpost-test/not-built:1" in panel.content and b"missing" in panel.content

    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "nuclei": nuclei_stand_in}
    panel = client.get(f"/workflows/{workflow.pk}/readiness")
    assert b"ready" in panel.content and b"present" in panel.content
