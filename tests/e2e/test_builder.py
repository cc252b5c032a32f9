"""The visual builder in a real browser (Debian's Chromium, headless) against a live server:
drag and drop, typed connections, cycles, the config panel, stale tabs, hostile names, the CSP,
and the screenshots the README shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import Team, User
from accounts.services import api_key_create
from tests.e2e.conftest import screenshot_dir
from workflows.models import Workflow
from workflows.services import workflow_create, workflow_create_from_template

pytestmark = [pytest.mark.e2e]

# Every CSP violation the page sees is recorded (the console shows them too). Waiting is done
# with locators (`expect`): Playwright's string predicates would need `eval`, which the CSP
# rightly refuses.
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def builder_page(page: Any, login_as: Callable[[Any], None], user: User) -> Any:
    page.add_init_script(CSP_WATCH)
    login_as(user)
    return page


def open_builder(page: Any, workflow: Workflow) -> None:
    page.goto(f"/workflows/{workflow.pk}/")
    expect(page.locator("#builder-status")).to_contain_text("Saved · revision")


def wait_for_revision(workflow: Workflow, revision: int, timeout_s: float = 10) -> Workflow:
    """The live server saves in its own thread: wait until the row has this revision."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        workflow.refresh_from_db()
        if workflow.revision >= revision:
            return workflow
        time.sleep(0.05)
    raise AssertionError(f"workflow stayed at revision {workflow.revision}, expected {revision}")


def drop(page: Any, node_type: str, x: int, y: int) -> None:
    page.drag_and_drop(
        f'.palette-item[data-type="{node_type}"]', "#drawflow", target_position={"x": x, "y": y}
    )


def node(page: Any, node_type: str) -> Any:
    return page.locator(f".drawflow-node.wf-type-{node_type}")


def connect(page: Any, source_type: str, target_type: str) -> None:
    """Drag from the source's output port to the target's input port, as a person would."""
    start = node(page, source_type).locator(".output").bounding_box()
    end = node(page, target_type).locator(".input").bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=10)
    page.mouse.up()


def edges_of(workflow: Workflow) -> list[tuple[str, str]]:
    types = {n["id"]: n["type"] for n in workflow.graph["nodes"]}
    return sorted((types[e["from"]], types[e["to"]]) for e in workflow.graph["edges"])


def assert_clean(page: Any, page_errors: list[str], *, allowed: tuple[str, ...] = ()) -> None:
    """No CSP violation, no script error, no console error (except expected refusals)."""
    assert page.evaluate("window.__cspViolations") == []
    unexpected = [e for e in page_errors if not any(a in e for a in allowed)]
    assert unexpected == []


def test_a_chain_built_by_drag_and_drop_survives_a_reload_and_matches_the_api(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    page = builder_page
    workflow = workflow_create(team=team, user=user, name="Built by hand")
    open_builder(page, workflow)
    assert page.is_visible("#canvas-empty")
    for index, (kind, x, y) in enumerate(
        [
            ("port_scan", 120, 90),
            ("http_probe", 420, 90),
            ("condition", 120, 320),
            ("delay", 420, 320),
        ]
    ):
        drop(page, kind, x, y)
        wait_for_revision(workflow, 2 + index)
    assert node(page, "port_scan").count() == 1 and page.locator(".drawflow-node").count() == 4
    connect(page, "port_scan", "http_probe")
    wait_for_revision(workflow, 6)
    connect(page, "http_probe", "condition")
    wait_for_revision(workflow, 7)
    connect(page, "condition", "delay")
    workflow = wait_for_revision(workflow, 8)
    assert edges_of(workflow) == [
        ("condition", "delay"), ("http_probe", "condition"), ("port_scan", "http_probe")
    ]  # fmt: skip

    # Configure port_scan in the side panel (a server-rendered form).
    node(page, "port_scan").locator(".wf-node-title").click()
    page.wait_for_selector("#panel input[name=ports]")
    page.fill("#panel input[name=ports]", "22,80,8000-8100")
    page.fill("#panel input[name=label]", "Edge ports")
    page.click("#panel button[type=submit]")
    page.wait_for_selector("#panel .saved-note")
    workflow = wait_for_revision(workflow, 9)
    port_scan = next(n for n in workflow.graph["nodes"] if n["type"] == "port_scan")
    assert port_scan["config"]["ports"] == "22,80,8000-8100" and port_scan["label"] == "Edge ports"
    expect(node(page, "port_scan").locator(".wf-node-title")).to_have_text("Edge ports")
    assert "22,80,8000-8100" in node(page, "port_scan").inner_text()

    # A bad value is refused next to its field, and nothing is saved.
    page.fill("#panel input[name=ports]", "lots")
    page.click("#panel button[type=submit]")
    page.wait_for_selector("#panel .field-errors .error")
    assert wait_for_revision(workflow, 9).revision == 9

    # Reload: the same graph comes back, and the API returns the same JSON.
    page.reload()
    expect(page.locator(".drawflow-node")).to_have_count(4)
    assert page.locator(".drawflow .connection").count() == 3
    assert node(page, "port_scan").locator(".wf-node-title").inner_text() == "Edge ports"
    shown = page.evaluate(f"fetch('/workflows/{workflow.pk}/graph').then(r => r.json())")
    key = api_key_create(team=team, user=user, name="e2e").raw_key
    from_api = page.request.get(
        f"/api/v1/workflows/{workflow.pk}", headers={"Authorization": f"Bearer {key}"}
    ).json()
    workflow.refresh_from_db()
    assert shown["graph"] == from_api["graph"] == workflow.graph
    assert from_api["revision"] == shown["revision"] == 9
    assert_clean(page, page_errors)


def test_incompatible_connections_and_cycles_are_refused_with_a_message(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    page = builder_page
    graph = {
        "nodes": [
            {"id": "images", "type": "trivy", "config": {}, "x": 40, "y": 40},
            {"id": "ports", "type": "port_scan", "config": {}, "x": 360, "y": 40},
            {"id": "gate", "type": "condition", "config": {}, "x": 40, "y": 260},
            {"id": "wait", "type": "delay", "config": {}, "x": 360, "y": 260},
        ],
        "edges": [{"from": "gate", "to": "wait"}],
    }
    workflow = workflow_create(team=team, user=user, name="Typed ports", graph=graph)
    open_builder(page, workflow)
    page.click('[data-action="zoom-reset"]')

    connect(page, "trivy", "port_scan")
    page.wait_for_selector("#builder-alert:not([hidden])")
    message = page.inner_text("#builder-alert-text")
    assert "port_scan accepts host, trivy emits no items" in message
    assert page.locator(".drawflow .connection").count() == 1  # the refused edge is gone
    assert page.locator(".wf-type-port_scan.refused").count() == 1

    page.click('[data-action="dismiss"]')
    connect(page, "delay", "condition")
    page.wait_for_selector("#builder-alert:not([hidden])")
    assert "cycle: " in page.inner_text("#builder-alert-text")
    assert page.locator(".drawflow .connection").count() == 1
    workflow.refresh_from_db()
    assert workflow.revision == 1 and workflow.graph["edges"] == [{"from": "gate", "to": "wait"}]
    # The two refusals answered 400: the browser logs those, nothing else.
    assert_clean(page, page_errors, allowed=("status of 400",))


def test_a_stale_tab_is_refused_with_a_reload_message_and_overwrites_nothing(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    first = builder_page
    workflow = workflow_create(team=team, user=user, name="Two tabs")
    open_builder(first, workflow)
    second = first.context.new_page()
    second.add_init_script(CSP_WATCH)
    open_builder(second, workflow)

    first.click('.palette-item[data-type="port_scan"]')  # click adds at the centre
    wait_for_revision(workflow, 2)
    second.click('.palette-item[data-type="delay"]')
    second.wait_for_selector("#builder-alert:not([hidden])")
    assert "stale revision: reload" in second.inner_text("#builder-alert-text")
    assert second.is_visible('#builder-alert [data-action="reload"]')
    time.sleep(0.3)
    workflow.refresh_from_db()
    assert workflow.revision == 2
    assert [n["type"] for n in workflow.graph["nodes"]] == ["port_scan"]

    second.click('#builder-alert [data-action="reload"]')
    expect(second.locator(".drawflow-node")).to_have_count(1)
    assert second.locator(".wf-type-port_scan").count() == 1
    assert_clean(first, page_errors, allowed=("status of 409",))


def test_keyboard_delete_and_undo(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    page = builder_page
    workflow = workflow_create_from_template(team=team, user=user, template_key="quick-recon")
    open_builder(page, workflow)
    node(page, "tls_inspect").locator(".wf-node-title").click()
    page.wait_for_selector("#panel [data-node-panel='tls-inspect']")
    page.locator("#drawflow").focus()
    page.keyboard.press("Delete")
    workflow = wait_for_revision(workflow, 2)
    assert "tls_inspect" not in [n["type"] for n in workflow.graph["nodes"]]
    assert len(workflow.graph["edges"]) == 2
    expect(page.locator("#builder-status")).to_have_text("Saved · revision 2")
    page.keyboard.press("Control+z")
    workflow = wait_for_revision(workflow, 3)
    assert [n["type"] for n in workflow.graph["nodes"]][-1] == "tls_inspect"
    assert len(workflow.graph["edges"]) == 3
    expect(page.locator(".drawflow-node")).to_have_count(4)
    assert_clean(page, page_errors)


def test_hostile_names_and_labels_render_inert(
    builder_page: Any, page_errors: list[str], dialogs: Any, team: Team, user: User
) -> None:
    page = builder_page
    graph = {
        "nodes": [
            {
                "id": "evil",
                "type": "delay",
                "label": "<script>alert(2)</script>",
                "config": {},
                "x": 40,
                "y": 40,
            }
        ],
        "edges": [],
    }
    name = "<img src=x onerror=alert(1)>"
    workflow = workflow_create(team=team, user=user, name=name, graph=graph)
    page.goto("/workflows/")
    assert page.locator("a.wf-name").inner_text() == name
    open_builder(page, workflow)
    assert page.inner_text("#workflow-name") == name
    assert node(page, "delay").locator(".wf-node-title").inner_text() == "<script>alert(2)</script>"
    node(page, "delay").locator(".wf-node-title").click()
    page.wait_for_selector("#panel [data-node-panel='evil']")
    assert page.input_value("#panel input[name=label]") == "<script>alert(2)</script>"
    page.wait_for_timeout(300)
    assert dialogs.messages == []
    assert page.locator("img[src=x]").count() == 0 and page.locator("#drawflow script").count() == 0
    assert_clean(page, page_errors)


def test_the_csp_stays_strict_and_the_builder_is_usable_at_1280_and_390(
    builder_page: Any, page_errors: list[str], live_server: Any, team: Team, user: User
) -> None:
    page = builder_page
    workflow = workflow_create_from_template(team=team, user=user, template_key="quick-recon")
    graph = dict(workflow.graph)
    graph["nodes"] = [*graph["nodes"], {"id": "high", "type": "condition", "label": "High and above",
                      "config": {"min_severity": "high"}, "x": 720, "y": 190}]  # fmt: skip
    graph["edges"] = [*graph["edges"], {"from": "http-probe", "to": "high"}]
    from workflows.services import workflow_update

    workflow = workflow_update(workflow=workflow, user=user, revision=1, graph=graph)
    response = page.goto(f"/workflows/{workflow.pk}/")
    policy = response.headers["content-security-policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    expect(page.locator(".drawflow-node")).to_have_count(5)
    node(page, "port_scan").locator(".wf-node-title").click()
    page.wait_for_selector("#panel input[name=ports]")

    shots = screenshot_dir()  # var/screenshots: docs/screenshots is refreshed by hand
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click('[data-action="zoom-reset"]')
    page.wait_for_timeout(200)
    page.screenshot(path=str(shots / "builder-1280.png"))

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/workflows/{workflow.pk}/")
    expect(page.locator(".drawflow-node")).to_have_count(5)
    page.wait_for_timeout(200)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # On a phone the palette starts folded, so the whole canvas is on the first screen; one
    # tap unfolds it. The panel is reachable and readable.
    assert not page.locator('.palette-item[data-type="port_scan"]').is_visible()
    canvas = page.locator("#drawflow").bounding_box()
    assert canvas["y"] >= 0 and canvas["y"] + canvas["height"] <= 844
    page.click(".palette-box > summary")
    assert page.locator('.palette-item[data-type="port_scan"]').is_visible()
    page.click(".palette-box > summary")
    with page.expect_response(lambda r: r.url.endswith(f"/workflows/{workflow.pk}/panel")):
        page.click('.builder-tools [data-action="show-workflow"]')
    page.wait_for_selector("#panel #run")
    page.wait_for_timeout(400)  # the panel scrolls into view
    assert page.locator("#panel input[name=name]").bounding_box()["width"] > 300
    page.screenshot(path=str(shots / "builder-390.png"), full_page=True)
    assert_clean(page, page_errors)


def test_a_dry_run_and_a_run_start_from_the_builder(
    builder_page: Any, page_errors: list[str], team: Team, user: User
) -> None:
    from targets.services import target_create

    page = builder_page
    target_create(team=team, user=user, value="127.0.0.1", note="lab")
    graph = {
        "nodes": [{"id": "ports", "type": "port_scan", "config": {"ports": "1"}, "x": 40, "y": 40}],
        "edges": [],
    }
    workflow = workflow_create(team=team, user=user, name="Run me", graph=graph)
    open_builder(page, workflow)
    page.check("#run input[name=targets]")
    page.click("#run button[value=dry_run]")
    page.wait_for_selector("#run .form-errors, #run .error")
    assert "authorized" in page.inner_text("#run")
    page.check("#run input[name=targets]")
    page.check("#run input[name=authorize_targets]")
    page.click("#run button[value=dry_run]")
    page.wait_for_selector("#run .plan-steps")
    assert "builtin:port_scan" in page.inner_text("#run .plan-steps")
    page.check("#run input[name=targets]")
    page.check("#run input[name=authorize_targets]")
    page.click("#run button[value=run]")
    link = page.wait_for_selector("#run .run-result.started a")
    from scans.models import Scan

    scan = Scan.objects.filter(workflow=workflow, mode="run").get()
    assert link.get_attribute("href") == f"/scans/{scan.pk}/"
    assert_clean(page, page_errors)


def test_an_alert_node_picks_its_integration_from_the_teams_by_name(
    builder_page: Any,
    page_errors: list[str],
    screenshot: Callable[..., Any],
    user: User,
    team: Team,
) -> None:
    from integrations.services import integration_create

    page = builder_page
    for name, url in (("#secops", "https://hooks.slack.com/services/T1/B1/a"),
                      ("#ops-night", "https://hooks.slack.com/services/T1/B1/b")):  # fmt: skip
        integration_create(team=team, user=user, kind="slack", name=name, webhook_url=url)
    workflow = workflow_create(
        team=team, user=user, name="Alerts", description="", graph={"nodes": [], "edges": []}
    )
    open_builder(page, workflow)
    drop(page, "slack_alert", 200, 160)
    expect(node(page, "slack_alert")).to_have_count(1)

    node(page, "slack_alert").locator(".wf-node-title").click()
    page.wait_for_selector("#panel select[name=integration]")
    labels = page.locator("#panel select[name=integration] option").all_inner_texts()
    assert labels == ["—", "#ops-night", "#secops"]
    page.select_option("#panel select[name=integration]", label="#secops")
    page.click("#panel button[type=submit]")
    page.wait_for_selector("#panel .saved-note")
    saved = wait_for_revision(workflow, 3)
    chosen = saved.graph["nodes"][0]["config"]["integration"]
    assert saved.team.integrations.get(pk=chosen).name == "#secops"
    # The canvas says which channel, by name.
    expect(node(page, "slack_alert")).to_contain_text("#secops")
    screenshot(page, "builder-alert-node")
    assert_clean(page, page_errors)
