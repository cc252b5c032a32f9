"""A screenshot of a local page, taken by the screenshot node in a real scan on a worker, shows on
the URL's asset page in a real browser (1280 and 390 px, no console or CSP errors, no horizontal
overflow). Screenshots of the page go to var/screenshots/ (recon-screenshot-*.png)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scans.models import Asset
from tests.recon_app import ReconApp
from tests.scanning import wait_scan_done
from workflows.services import workflow_create

pytestmark = [pytest.mark.e2e]


def test_a_pages_screenshot_shows_on_its_asset_page(
    page: Any, page_errors: list[str], login_as: Callable[[Any], None],
    screenshot: Callable[..., Any], user: Any, team: Any, authorize: Callable[..., Any],
    worker: Any, owner_api: Any, recon_app: ReconApp,
) -> None:  # fmt: skip
    target = authorize(recon_app.url)
    graph = {
        "nodes": [
            {"id": "probe", "type": "http_probe", "config": {"schemes": "http"}, "x": 80, "y": 80},
            {"id": "shot", "type": "screenshot", "config": {}, "x": 300, "y": 80},
        ],
        "edges": [{"from": "probe", "to": "shot"}],
    }
    workflow = workflow_create(team=team, user=user, name="screenshots", graph=graph)
    answer = owner_api.post(
        "/api/v1/scans",
        {"workflow": workflow.pk, "targets": [target.pk], "authorize_targets": True},
        format="json",
    )
    scan = wait_scan_done(answer.json()["id"], timeout_s=120)
    assert scan.status == "completed", (
        scan.error,
        [(s.node_id, s.error) for s in scan.steps.all()],
    )
    assert recon_app.other.requests == []  # the page's images on other origins: never fetched
    url = Asset.objects.get(team=team, kind="url", value=recon_app.url)
    shot = Asset.objects.get(team=team, kind="screenshot", parent=url)
    assert isinstance(shot.attrs["artifact"], int)
    login_as(user)

    page.goto(f"/assets/{url.pk}/")
    image = page.wait_for_selector("img.screenshot")
    page.wait_for_function("document.querySelector('img.screenshot').naturalWidth > 0")
    assert image.evaluate("img => img.naturalWidth") == 1280
    shots = screenshot(page, "recon-screenshot-asset")
    assert shots.overflow_px == {1280: 0, 390: 0}
    assert page_errors == []
    answer = page.request.get(f"/assets/{shot.pk}/screenshot")
    assert answer.status == 200 and answer.body().startswith(b"\x89PNG")

    # The inventory's Screenshot tab shows a thumbnail of each.
    page.goto("/assets/?kind=screenshot")
    page.wait_for_selector("img.thumb")
    page.wait_for_function("document.querySelector('img.thumb').naturalWidth > 0")
    shots = screenshot(page, "recon-screenshot-list")
    assert shots.overflow_px == {1280: 0, 390: 0}
    assert page_errors == []
