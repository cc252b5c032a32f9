"""One scan rate limit for every way a person starts a scan: the New scan page, the builder's Run
panel, the scans API and the image API count against the same counter (scans.services), so the
campaign's 70 page submissions in a row are refused from the 61st, as the API's were."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from accounts.models import Team, User
from scans.models import Scan

pytestmark = pytest.mark.django_db

WORKFLOW_NODES = [{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}]


@pytest.fixture
def scan_limit(settings: Any) -> Any:
    """Limits on, each test under its own counter prefix (Redis keeps counters between runs);
    an hour's window, so no window boundary falls inside a test."""

    def set_limit(count: int) -> None:
        settings.RATE_LIMIT_ENABLED = True
        settings.RATELIMIT_ENABLE = True
        settings.RATELIMIT_CACHE_PREFIX = f"rl-scan-{uuid.uuid4().hex}:"
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "scan": f"{count}/h"}

    return set_limit


@pytest.fixture
def browser(user: User) -> Client:
    client = Client(REMOTE_ADDR="10.9.0.1")
    client.force_login(user)
    return client


def _page_start(browser: Client, workflow: Any, target: Any, action: str = "dry_run") -> Any:
    return browser.post(
        "/scans/new",
        {
            "workflow": workflow.pk,
            "targets": [target.pk],
            "authorize_targets": "on",
            "action": action,
        },
    )


def _builder_run(browser: Client, workflow: Any, target: Any) -> Any:
    return browser.post(
        f"/workflows/{workflow.pk}/run",
        {"targets": [target.pk], "authorize_targets": "on", "action": "dry_run"},
        HTTP_HX_REQUEST="true",
    )


def _api_start(client: Any, workflow: Any, target: Any) -> Any:
    body = {
        "workflow": workflow.pk,
        "targets": [target.pk],
        "authorize_targets": True,
        "dry_run": True,
    }
    return client.post("/api/v1/scans", body, format="json")


def test_the_new_scan_page_refuses_the_61st_submission_in_a_row(
    scan_limit: Any, browser: Client, make_workflow: Any, authorize: Any
) -> None:
    scan_limit(60)
    workflow = make_workflow(WORKFLOW_NODES)
    target = authorize("127.0.0.1")
    for n in range(60):
        answer = _page_start(browser, workflow, target)
        assert answer.status_code == 200, (n, answer.status_code)
    refused = _page_start(browser, workflow, target)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    page = refused.content.decode()
    assert "Too many scans submitted" in page
    assert 'name="targets"' in page  # the form is still there, with the error above it
    assert Scan.objects.count() == 60
    for _ in range(9):  # the campaign's 70 in a row: every one after the limit refused
        assert _page_start(browser, workflow, target).status_code == 429
    assert Scan.objects.count() == 60


def test_the_page_the_builder_and_the_api_share_one_counter(
    scan_limit: Any,
    browser: Client,
    owner_api: Any,
    make_workflow: Any,
    authorize: Any,
) -> None:
    scan_limit(3)
    workflow = make_workflow(WORKFLOW_NODES)
    target = authorize("127.0.0.1")
    authorize("nginx:1.25", kind="image")

    assert _page_start(browser, workflow, target).status_code == 200
    assert _builder_run(browser, workflow, target).status_code == 200
    assert _api_start(owner_api, workflow, target).status_code == 201
    assert Scan.objects.count() == 3

    api_refused = _api_start(owner_api, workflow, target)
    assert api_refused.status_code == 429
    assert int(api_refused["Retry-After"]) > 0
    assert api_refused.json()["detail"].startswith("Too many scans submitted")
    image_refused = owner_api.post(
        "/api/v1/scan/docker", {"image": "nginx:1.25", "authorize_targets": True}, format="json"
    )
    assert image_refused.status_code == 429
    builder_refused = _builder_run(browser, workflow, target)
    assert builder_refused.status_code == 429
    assert "Too many scans submitted" in builder_refused.content.decode()
    assert int(builder_refused["Retry-After"]) > 0
    assert _page_start(browser, workflow, target, action="run").status_code == 429
    assert Scan.objects.count() == 3


def test_the_limit_counts_per_account_across_addresses(
    scan_limit: Any, user: User, team: Team, make_workflow: Any, authorize: Any
) -> None:
    scan_limit(2)
    workflow = make_workflow(WORKFLOW_NODES)
    target = authorize("127.0.0.1")
    for n in range(2):
        client = Client(REMOTE_ADDR=f"10.9.1.{n + 1}")
        client.force_login(user)
        assert _page_start(client, workflow, target).status_code == 200
    elsewhere = Client(REMOTE_ADDR="10.9.1.50")
    elsewhere.force_login(user)
    assert _page_start(elsewhere, workflow, target).status_code == 429


def test_without_limits_every_submission_starts(
    browser: Client, make_workflow: Any, authorize: Any
) -> None:
    workflow = make_workflow(WORKFLOW_NODES)
    target = authorize("127.0.0.1")
    for _ in range(5):
        assert _page_start(browser, workflow, target).status_code == 200
    assert Scan.objects.count() == 5
