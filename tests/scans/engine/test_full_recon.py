"""The "Full recon" template on a real worker, with built-in steps only (as on `make run`: no
Docker needed), against a local domain served by nsd (tests/dns_zone.py, its names on
127.0.0.x) and the local web app (tests/recon_app.py): the scan completes and the inventory holds
the domain's names, the address, the web app's service, its hidden paths and crawled pages."""

from __future__ import annotations

from typing import Any

import pytest

from scans.models import Asset, ScanStep
from tests.dns_zone import CORP_DOMAIN, AuthoritativeZone
from tests.recon_app import HIDDEN_PATHS, ReconApp
from tests.scanning import wait_scan_done
from tests.scans.tools.conftest import build_test_images
from workflows.services import workflow_create_from_template, workflow_update
from workflows.templates import template_graph

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_full_recon_is_the_chain_of_the_issue_in_built_in_steps() -> None:
    graph = template_graph("full-recon")
    types = [node["type"] for node in graph["nodes"]]
    assert types[:6] == [
        "subdomains", "dns_resolve", "port_scan", "http_probe", "content_discovery", "crawl",
    ]  # fmt: skip
    assert {"tls_inspect", "screenshot"} <= set(types)


def test_full_recon_maps_a_local_domain_and_app_into_the_inventory(
    worker: Any, owner_api: Any, user: Any, team: Any, authorize: Any,
    corp_zone: AuthoritativeZone, recon_app: ReconApp,
) -> None:  # fmt: skip
    domain = authorize(CORP_DOMAIN)
    authorize(f"*.{CORP_DOMAIN}")
    authorize("127.0.0.1")
    workflow = workflow_create_from_template(team=team, user=user, template_key="full-recon")
    graph = workflow.graph
    configs = {
        "subdomains": {"nameserver": corp_zone.nameserver, "wordlist": "small",
                       "zone_transfer_port": corp_zone.port, "passive": False},
        "dns_resolve": {"nameserver": corp_zone.nameserver, "use_system_resolver": False,
                        "record_types": "A"},
        "port_scan": {"ports": str(recon_app.app.port)},
        "http_probe": {"schemes": "http"},
        "content_discovery": {"wordlist": "small", "extra_words": "phpinfo.php",
                              "concurrency": 8},
        "crawl": {"max_pages": 100},
    }  # fmt: skip
    for node in graph["nodes"]:
        node["config"].update(configs.get(node["type"], {}))
    workflow = workflow_update(
        workflow=workflow, user=user, revision=workflow.revision, graph=graph
    )

    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [domain.pk], "authorize_targets": True},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    scan = wait_scan_done(answer.json()["id"], timeout_s=240)

    steps = {s.node_id: (s.status, s.error) for s in ScanStep.objects.filter(scan=scan)}
    assert scan.status == "completed", (scan.error, steps)
    assert all(status == "completed" for status, _ in steps.values()), steps
    assets = set(Asset.objects.filter(team=team).values_list("kind", "value"))
    app = f"http://127.0.0.1:{recon_app.app.port}"
    assert {("domain", f"www.{CORP_DOMAIN}"), ("domain", f"zz-build-7f3.{CORP_DOMAIN}")} <= assets
    assert ("ip", "127.0.0.1") in assets
    assert ("service", f"127.0.0.1:{recon_app.app.port}/tcp") in assets
    for path in [*HIDDEN_PATHS, "/about", "/api/v2/orders", "/hidden-from-nav"]:
        assert ("url", f"{app}{path}") in assets, path
    assert recon_app.other.requests == []
    shot = Asset.objects.get(team=team, kind="screenshot", value=f"{app}/")
    assert isinstance(shot.attrs["artifact"], int)


RECON_IMAGES = ("ffuf", "whatweb", "wafw00f", "sslscan", "nuclei")


@pytest.fixture
def recon_images(
    require_docker: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> dict[str, str]:
    """The container tools' local test images for this process and the workers it starts (their
    environment is copied when the cluster starts), on the host network (only 127.0.0.1 is
    scanned)."""
    images = build_test_images()
    for tool in RECON_IMAGES:
        monkeypatch.setenv(f"TOOL_IMAGE_{tool.upper()}", images[tool])
        monkeypatch.setenv(f"TOOL_NETWORK_{tool.upper()}", "host")
    monkeypatch.setenv("SCAN_EXECUTOR", "docker")
    return images


def test_full_recon_with_containers_runs_the_container_tools(
    recon_images: dict[str, str], worker_cluster: Any, owner_api: Any, user: Any, team: Any,
    authorize: Any, corp_zone: AuthoritativeZone, recon_app: ReconApp,
) -> None:  # fmt: skip
    worker_cluster.start()
    domain = authorize(CORP_DOMAIN)
    authorize(f"*.{CORP_DOMAIN}")
    authorize("127.0.0.1")
    workflow = workflow_create_from_template(
        team=team, user=user, template_key="full-recon-containers"
    )
    graph = workflow.graph
    configs = {
        "subdomains": {"nameserver": corp_zone.nameserver, "wordlist": "small",
                       "zone_transfer_port": corp_zone.port, "passive": False},
        "dns_resolve": {"nameserver": corp_zone.nameserver, "use_system_resolver": False,
                        "record_types": "A"},
        "port_scan": {"ports": str(recon_app.app.port)},
        "http_probe": {"schemes": "http"},
        "ffuf": {"threads": 10},
        "crawl": {"max_pages": 100},
    }  # fmt: skip
    for node in graph["nodes"]:
        node["config"].update(configs.get(node["type"], {}))
    workflow = workflow_update(
        workflow=workflow, user=user, revision=workflow.revision, graph=graph
    )

    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [domain.pk], "authorize_targets": True},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    scan = wait_scan_done(answer.json()["id"], timeout_s=600)

    steps = {s.node_id: s for s in ScanStep.objects.filter(scan=scan)}
    shown = {k: (s.status, s.error) for k, s in steps.items()}
    assert scan.status == "completed", (scan.error, shown)
    for tool in ("ffuf", "whatweb", "wafw00f", "nuclei"):
        assert steps[tool].executor == "docker", (tool, shown)
        assert steps[tool].image == recon_images[tool]
    assets = set(Asset.objects.filter(team=team).values_list("kind", "value"))
    app = f"http://127.0.0.1:{recon_app.app.port}"
    for path in HIDDEN_PATHS:  # found by ffuf in its container
        assert ("url", f"{app}{path}") in assets, path
    assert ("technology", "python") in assets  # WhatWeb's fingerprint
    assert ("screenshot", f"{app}/") in assets
    assert ("domain", f"zz-build-7f3.{CORP_DOMAIN}") in assets
    assert recon_app.other.requests == []
