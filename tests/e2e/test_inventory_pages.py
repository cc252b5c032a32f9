"""The inventory in a real browser after a real scan of the lab (web servers, a redirect, a
self-signed TLS server, a DNS zone served by dnsmasq) on a worker: the list's tabs and filters,
the domain → IP → service → URL → certificate chain by following links, the scan page's panel;
at 1280 and 390 px without console or CSP errors or horizontal overflow. Screenshots go to
var/screenshots/ (inventory-*.png, copied to docs/screenshots/ for the docs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scans.models import Asset
from tests.scanning import wait_scan_done
from tests.scans.assets.lab import Lab, make_lab
from tests.scans.builtin.conftest import WebServer
from workflows.services import workflow_create

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def lab(tmp_path: Path, dns_zone: Any) -> Iterator[Lab]:
    servers: list[WebServer] = []

    def serve(**options: Any) -> WebServer:
        servers.append(WebServer(**options))
        return servers[-1]

    yield make_lab(serve, tmp_path / "certs", dns_zone)
    for server in servers:
        server.close()


def _fits(shots: Any) -> None:
    assert shots.overflow_px == {1280: 0, 390: 0}


def test_the_inventory_pages_show_the_chain_of_a_scanned_lab(
    page: Any, page_errors: list[str], login_as: Callable[[Any], None],
    screenshot: Callable[..., Any], user: Any, team: Any, authorize: Callable[..., Any],
    worker: Any, owner_api: Any, lab: Lab,
) -> None:  # fmt: skip
    domain = authorize("lab.outpost.test")
    authorize("127.0.0.1")
    nodes, edges = lab.graph_nodes()
    graph = {
        "nodes": [{"x": 80 + 220 * i, "y": 80, **n} for i, n in enumerate(nodes)],
        "edges": [{"from": a, "to": b} for a, b in edges],
    }
    workflow = workflow_create(team=team, user=user, name="lab recon", graph=graph)
    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [domain.pk], "authorize_targets": True},
        format="json",
    )
    scan = wait_scan_done(answer.json()["id"], timeout_s=120)
    assert scan.status == "completed", scan.error
    login_as(user)

    page.goto("/assets/")
    page.wait_for_selector("table.assets")
    _fits(screenshot(page, "inventory-list"))
    page.click("nav.tabs >> text=Service")
    page.wait_for_selector("nav.tabs a.active >> text=Service")
    assert page.locator("table.assets tbody tr").count() == 3

    page.goto("/assets/?kind=domain")
    page.click("table.assets >> text=lab.outpost.test")
    page.wait_for_selector("h1.asset-title")
    page.click(".related >> text=127.0.0.1")  # resolves to
    page.wait_for_selector("h1.asset-title >> text=127.0.0.1")
    tls = f"127.0.0.1:{lab.tls.port}/tcp"
    page.click(f".related >> text={tls}")
    page.wait_for_selector(f"h1.asset-title >> text={tls}")
    assert page.locator(".chain").inner_text().replace("\n", " ").count("127.0.0.1") >= 1
    assert page.locator("text=self-signed").count() >= 1  # the certificate, and its finding
    assert page.locator(f".related >> text=https://127.0.0.1:{lab.tls.port}/").count() == 1
    _fits(screenshot(page, "inventory-asset"))
    page.click("section.card >> text=lab.outpost.test")  # the certificate
    page.wait_for_selector("h1.asset-title .badge >> text=Certificate")
    assert page.locator(f".related >> text={tls}").count() == 1  # presented by

    page.goto(f"/scans/{scan.pk}/")
    page.wait_for_selector("#assets table.asset-changes")
    assert "This scan saw" in page.locator("#assets").inner_text()
    _fits(screenshot(page, "inventory-scan-panel"))
    assert Asset.objects.filter(team=team, kind="certificate").count() == 1
    assert page_errors == []
