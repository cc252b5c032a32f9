"""Forms show every error at once, in words (issue #20): a missing consent does not hide a bad
cron, no message names an API parameter, a short webhook secret is refused with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from integrations.models import Integration, ScanSchedule
from scans.models import Scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(make_workflow: Any) -> Any:
    return make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}])


@pytest.fixture
def target(authorize: Any) -> Any:
    return authorize("127.0.0.1")


@pytest.fixture
def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_schedule_without_consent_and_with_a_bad_cron_shows_both_errors(
    browser: Client, workflow: Any, target: Any
) -> None:
    answer = browser.post(
        "/integrations/schedules/new",
        {"name": "Nightly", "workflow": workflow.pk, "targets": [target.pk],
         "cadence": "cron", "cron": "0 25 * * *"},
    )  # fmt: skip
    body = answer.content.decode()
    assert answer.status_code == 400
    assert "Confirm that you are authorized to scan these targets on this schedule." in body
    assert "not a valid cron expression" in body
    assert "authorize_targets=true" not in body
    assert not ScanSchedule.objects.exists()


def test_the_new_scan_page_shows_the_missing_targets_and_the_missing_consent_together(
    browser: Client, workflow: Any
) -> None:
    answer = browser.post("/scans/new", {"workflow": workflow.pk})
    body = answer.content.decode()
    assert answer.status_code == 400
    assert "Confirm that you are authorized to scan these targets." in body
    assert "This field is required." in body  # the targets
    assert "authorize_targets" not in body.split("<form", 1)[1].split("name=")[0]
    assert not Scan.objects.exists()


def test_the_api_answers_every_problem_of_a_scan_start_at_once(
    owner_api: APIClient, workflow: Any
) -> None:
    answer = owner_api.post(
        "/api/v1/scans", {"workflow": workflow.pk, "targets": []}, format="json"
    )
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert "authorize_targets" in errors and "targets" in errors
    assert "authorize_targets=true" not in str(errors)


def test_a_short_webhook_secret_is_refused_with_the_reason_next_to_the_field(
    browser: Client,
) -> None:
    answer = browser.post(
        "/integrations/new/webhook",
        {"name": "SIEM", "webhook_url": "https://siem.example.com/hook", "signing_secret": "short",
         "is_enabled": "on"},
    )  # fmt: skip
    body = answer.content.decode()
    assert answer.status_code == 400
    assert "needs at least 16 characters (this one has 5)" in body
    assert "It was not saved; type a longer one." in body
    assert not Integration.objects.exists()
