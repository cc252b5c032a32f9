"""axe-core (vendored in tests/e2e/vendor, never served by the app) over the main pages, in
Debian's Chromium: no serious or critical WCAG 2 A/AA violation (contrast included), and a skip
link that moves the focus to the content. The browser context bypasses the CSP only to inject
axe; the app's pages are otherwise as served."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Team, User
from scans.models import Scan
from scans.reports.dashboard import open_findings_refresh
from tests.scans.findings.factories import completed_scan, realistic_findings
from workflows.services import workflow_create_from_template

pytestmark = [pytest.mark.e2e]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """
async (exclude) => {
  const context = exclude ? {exclude: [exclude]} : document;
  const result = await axe.run(context, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => v.id + " (" + v.impact + "): " + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "));
}
"""


@pytest.fixture
def axe_page(browser: Any, live_server: Any, user: User) -> Any:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url, bypass_csp=True
    )
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page = context.new_page()
    yield page
    context.close()


# Swagger UI's own widgets (third-party markup inside #swagger-ui) are left out; the page
# around them (language, landmarks, the way back) is checked.
EXCLUDE = {"/api/docs": "#swagger-ui"}


def violations(page: Any, path: str) -> list[str]:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    return [f"{path}: {v}" for v in page.evaluate(RUN_AXE, EXCLUDE.get(path))]


def test_the_main_pages_have_no_serious_or_critical_accessibility_violation(
    axe_page: Any, user: User, team: Team
) -> None:
    scan = completed_scan(team=team, user=user, findings=realistic_findings(40))
    open_findings_refresh(team.pk)
    Scan.objects.create(team=team, workflow_name="Dry", status="completed", mode="dry_run")
    workflow = workflow_create_from_template(team=team, user=user, template_key="quick-recon")
    finding = scan.findings.first()
    assert finding is not None
    pages = [
        "/",
        "/scans/",
        f"/scans/{scan.pk}/",
        "/findings/",
        f"/findings/{finding.pk}/",
        "/assets/",
        "/targets/",
        "/workflows/",
        f"/workflows/{workflow.pk}/",
        "/integrations/",
        "/accounts/api-keys",
        "/accounts/teams",
        "/api/docs",
    ]
    found: list[str] = []
    for path in pages:
        found += violations(axe_page, path)
    assert found == [], "\n".join(found)


def test_the_skip_link_is_the_first_stop_and_moves_the_focus_to_the_content(
    page: Any, login_as: Callable[[Any], None], user: User
) -> None:
    login_as(user)
    page.goto("/targets/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.locator(".skip-link").bounding_box()["x"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_the_api_docs_have_a_way_back_to_the_app(
    page: Any, login_as: Callable[[Any], None], user: User, screenshot: Callable[..., Any]
) -> None:
    login_as(user)
    page.goto("/api/docs")
    page.wait_for_selector(".swagger-ui .info")
    back = page.locator(".docs-bar a.docs-home")
    assert back.inner_text() == "← Back to Outpost"
    screenshot(page, "api-docs")
    back.click()
    page.wait_for_url(lambda url: url.endswith("/") and "/api/" not in url)
