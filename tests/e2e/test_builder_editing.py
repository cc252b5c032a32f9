"""The builder as an analyst uses it (issue #20), in Debian's Chromium against a live server:
the Readiness panel follows every change, the palette says what the validator checks, ports
refuse visibly while an edge is dragged, click-to-add places and connects, edges and moves
with the keyboard only (and by touch on a phone), settings that save themselves and are never
lost on a selection change."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import AuditEvent, Team, User
from tests.e2e.conftest import PHONE_HEIGHT, PHONE_WIDTH, take_screenshots
from tests.e2e.test_builder import (
    CSP_WATCH,
    assert_clean,
    builder_page,
    drop,
    edges_of,
    node,
    open_builder,
    wait_for_revision,
)
from workflows.models import Workflow
from workflows.nodes import node_type
from workflows.services import workflow_create

pytestmark = [pytest.mark.e2e]
__all__ = ["builder_page"]  # the fixture, shared with test_builder


def a_workflow(team: Team, user: User, nodes: list[tuple[str, str, int, int]]) -> Workflow:
    graph = {
        "nodes": [{"id": i, "type": t, "config": {}, "x": x, "y": y} for i, t, x, y in nodes],
        "edges": [],
    }
    return workflow_create(team=team, user=user, name="Editing", graph=graph)


def click_add(page: Any, node_type_name: str) -> None:
    page.click(f'.palette-item[data-type="{node_type_name}"]')


def position(workflow: Workflow, node_id: str) -> tuple[int, int]:
    found = next(n for n in workflow.graph["nodes"] if n["id"] == node_id)
    return found["x"], found["y"]


def test_the_readiness_panel_follows_every_change_without_a_reload(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    page = builder_page
    workflow = workflow_create(team=team, user=user, name="Ready?")
    open_builder(page, workflow)
    readiness, summary = page.locator("#readiness"), page.locator("#readiness-summary")
    expect(readiness).to_contain_text("the workflow needs at least one node")
    expect(summary).to_have_text("Not ready: 1 problem")
    drop(page, "port_scan", 150, 120)
    expect(readiness).to_contain_text("Ready to run: 1 node.")
    expect(summary).to_have_text("Ready to run: 1 node")
    click_add(page, "http_probe")  # selects the new node: the panel shows its settings
    click_add(page, "nuclei")
    expect(summary).to_have_text("Ready to run: 3 nodes")
    workflow.refresh_from_db()
    assert workflow.node_count == 3
    page.click("#readiness-summary")  # back to the workflow panel: the same, in full
    expect(readiness).to_contain_text("Ready to run: 3 nodes.")
    # A problem shows at once too: an alert node without its integration.
    click_add(page, "slack_alert")
    expect(summary).to_have_text("Not ready: 1 problem")
    page.click("#readiness-summary")
    expect(readiness).to_contain_text("slack-alert")
    assert_clean(page, page_errors)


def test_the_palette_says_what_the_validator_accepts(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    page = builder_page
    workflow = a_workflow(
        team, user, [("web", "http_probe", 60, 60), ("secrets", "secret_scan", 300, 60)]
    )
    open_builder(page, workflow)
    secret = page.locator('.palette-io[data-io="secret_scan"]')
    assert secret.inner_text().split() == ["repo", "→", "findings"]
    assert (
        "web responses" not in page.locator('.palette-item[data-type="secret_scan"]').inner_text()
    )
    for item in page.locator(".palette-io").all():
        kind = node_type(item.get_attribute("data-io"))
        assert kind is not None
        assert item.inner_text().split() == [*kind.takes, "→", *" ".join(kind.gives).split()] or (
            not kind.takes and item.inner_text().split()[0] == "nothing"
        )
    # The port colours are the same kinds: secret_scan's input is painted "repo" only, and
    # the validator refuses http_probe → secret_scan with the same words.
    assert node(page, "secret_scan").locator(".input").get_attribute("data-kinds") == "repo"
    assert "url" in node(page, "http_probe").locator(".output").get_attribute("data-kinds").split()
    response = page.request.post(
        f"/workflows/{workflow.pk}/graph",
        headers={"X-CSRFToken": page.evaluate("document.getElementById('builder').dataset.csrf")},
        data={
            "revision": 1,
            "graph": {**workflow.graph, "edges": [{"from": "web", "to": "secrets"}]},
        },
    )
    assert response.status == 400
    assert "secret_scan accepts repo" in response.json()["errors"][0]["message"]
    assert_clean(page, page_errors)


def test_dragging_an_edge_dims_the_inputs_that_would_refuse_it(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    page = builder_page
    workflow = a_workflow(
        team,
        user,
        [("web", "http_probe", 60, 60), ("secrets", "secret_scan", 360, 20),
         ("high", "condition", 360, 160)],
    )  # fmt: skip
    open_builder(page, workflow)
    start = node(page, "http_probe").locator(".output").bounding_box()
    page.mouse.move(start["x"] + 7, start["y"] + 7)
    page.mouse.down()
    page.mouse.move(start["x"] + 120, start["y"] + 60, steps=5)
    expect(node(page, "secret_scan")).to_have_class(lambda_class("port-refuses"))
    assert "port-refuses" not in (node(page, "condition").get_attribute("class") or "")
    assert float(node(page, "secret_scan").evaluate("e => getComputedStyle(e).opacity")) < 0.6
    page.mouse.up()
    expect(page.locator(".port-refuses")).to_have_count(0)
    assert_clean(page, page_errors)


def lambda_class(name: str) -> Any:
    import re

    return re.compile(rf"(^|\s){name}(\s|$)")


def test_click_to_add_goes_right_of_the_selected_node_and_connects_when_the_kinds_fit(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    page = builder_page
    workflow = workflow_create(team=team, user=user, name="Clicks")
    open_builder(page, workflow)
    click_add(page, "port_scan")
    wait_for_revision(workflow, 2)
    click_add(page, "http_probe")  # port_scan is selected: after it, connected
    workflow = wait_for_revision(workflow, 3)
    assert edges_of(workflow) == [("port_scan", "http_probe")]
    (px, py), (hx, hy) = position(workflow, "port-scan"), position(workflow, "http-probe")
    assert hx - px >= 200 and hy == py
    click_add(page, "secret_scan")  # http_probe is selected; a repo scanner does not fit
    workflow = wait_for_revision(workflow, 4)
    assert edges_of(workflow) == [("port_scan", "http_probe")]
    sx, _ = position(workflow, "secret-scan")
    assert sx - hx >= 200
    # Two nodes added after the same node do not land on each other.
    node(page, "http_probe").locator(".wf-node-title").click()
    page.wait_for_selector('#panel [data-node-panel="http-probe"]')
    click_add(page, "nuclei")
    workflow = wait_for_revision(workflow, 5)
    assert ("http_probe", "nuclei") in edges_of(workflow)
    assert position(workflow, "nuclei") != position(workflow, "secret-scan")
    assert_clean(page, page_errors)


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus (keyboard only)."""
    for _ in range(limit):
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_two_nodes_are_connected_and_moved_with_the_keyboard_only(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    page = builder_page
    workflow = a_workflow(
        team,
        user,
        [("ports", "port_scan", 60, 60), ("web", "http_probe", 360, 60),
         ("secrets", "secret_scan", 360, 220)],
    )  # fmt: skip
    open_builder(page, workflow)
    page.locator("body").focus()
    tab_to(page, ".drawflow-node.wf-type-port_scan")
    page.keyboard.press("Enter")
    page.wait_for_selector('#panel [data-node-panel="ports"]')
    options = page.locator("#connect-to option").all_inner_texts()
    assert options == ["HTTP probe (web)"]  # secret_scan does not take services
    tab_to(page, "#connect-to")
    tab_to(page, '[data-action="connect"]')
    page.keyboard.press("Enter")
    workflow = wait_for_revision(workflow, 2)
    assert edges_of(workflow) == [("port_scan", "http_probe")]
    expect(page.locator(".edge-list")).to_contain_text("HTTP probe")
    assert page.locator(".drawflow .connection").count() == 1

    # Moving: the focused node follows the arrow keys, and the place is saved.
    page.locator(".drawflow-node.wf-type-http_probe").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    workflow = wait_for_revision(workflow, 3)
    assert position(workflow, "web") == (400, 160)
    assert_clean(page, page_errors)


def test_on_a_phone_the_palette_is_folded_and_a_tap_connects_two_nodes(
    browser: Any, live_server: Any, team: Team, user: User
) -> None:
    from django.conf import settings
    from django.test import Client

    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
        has_touch=True,
        is_mobile=True,
        base_url=live_server.url,
    )
    client = Client()
    client.force_login(user)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url}])  # fmt: skip
    page = context.new_page()
    page.add_init_script(CSP_WATCH)
    workflow = a_workflow(
        team, user, [("ports", "port_scan", 20, 40), ("web", "http_probe", 20, 180)]
    )
    try:
        open_builder(page, workflow)
        assert page.evaluate("document.querySelector('.palette-box').open") is False
        canvas = page.locator("#drawflow").bounding_box()
        assert canvas["y"] + canvas["height"] <= PHONE_HEIGHT
        page.locator(".drawflow-node.wf-type-port_scan .wf-node-title").tap()
        page.wait_for_selector('#panel [data-node-panel="ports"]')
        page.locator('[data-action="connect"]').tap()
        workflow = wait_for_revision(workflow, 2)
        assert edges_of(workflow) == [("port_scan", "http_probe")]
        shots = take_screenshots(page, "builder-phone-connected", widths=(PHONE_WIDTH,))
        assert shots.overflow_px[PHONE_WIDTH] == 0
        assert page.evaluate("window.__cspViolations") == []
    finally:
        context.close()


def test_settings_save_themselves_and_survive_selecting_another_node(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    page = builder_page
    workflow = a_workflow(
        team, user, [("ports", "port_scan", 60, 60), ("web", "http_probe", 360, 60)]
    )
    open_builder(page, workflow)
    node(page, "port_scan").locator(".wf-node-title").click()
    page.wait_for_selector("#panel input[name=ports]")
    # Typed, no Save: a pause saves it.
    page.fill("#panel input[name=label]", "Edge ports")
    workflow = wait_for_revision(workflow, 2)
    assert next(n for n in workflow.graph["nodes"] if n["id"] == "ports")["label"] == "Edge ports"
    expect(page.locator("#node-form-status")).to_contain_text("Saved")
    expect(node(page, "port_scan").locator(".wf-node-title")).to_have_text("Edge ports")
    # Typed, and another node selected at once: the edit is saved, not thrown away.
    page.fill("#panel input[name=ports]", "22,443")
    node(page, "http_probe").locator(".wf-node-title").click()
    page.wait_for_selector('#panel [data-node-panel="web"]')
    workflow = wait_for_revision(workflow, 3)
    assert (
        next(n for n in workflow.graph["nodes"] if n["id"] == "ports")["config"]["ports"]
        == "22,443"
    )
    # A bad value is refused next to its field, and nothing is saved.
    node(page, "port_scan").locator(".wf-node-title").click()
    page.wait_for_selector('#panel [data-node-panel="ports"]')
    page.fill("#panel input[name=ports]", "lots")
    expect(page.locator("#err-ports .error")).to_be_visible()
    expect(page.locator("#node-form-status")).to_contain_text("Not saved")
    page.fill("#panel input[name=ports]", "80")
    expect(page.locator("#err-ports .error")).to_have_count(0)
    workflow = wait_for_revision(workflow, 4)
    assert next(n for n in workflow.graph["nodes"] if n["id"] == "ports")["config"]["ports"] == "80"
    # One audit row for this editing burst, not one per save.
    rows = AuditEvent.objects.filter(action="workflow.updated", detail__workflow_id=workflow.pk)
    assert rows.count() == 1 and rows.get().detail["saves"] == 3
    assert_clean(page, page_errors)
