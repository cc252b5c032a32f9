"""Operators in the Django admin: every scans model lists, and a scan can be run again through
the same service as the page and the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from scans.models import Scan
from scans.services import scan_start

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def operator_client() -> Client:
    operator = User.objects.create_superuser("ops@example.test", "a-long-passphrase-42")
    client = Client()
    client.force_login(operator)
    return client


def test_every_scans_admin_page_lists(
    operator_client: Client, user: Any, team: Any, authorize: Any, make_workflow: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}])
    scan = scan_start(
        team=team,
        user=user,
        workflow=workflow,
        target_ids=[target.pk],
        consent=True,
        mode="dry_run",
    )
    for model in ("scan", "scanstep", "scanlog", "finding", "asset", "artifact"):
        assert operator_client.get(f"/admin/scans/{model}/").status_code == 200, model
    assert operator_client.get(f"/admin/scans/scan/{scan.pk}/change/").status_code == 200


def test_an_operator_runs_a_scan_again_with_the_scope_checked_again(
    operator_client: Client, user: Any, team: Any, authorize: Any, make_workflow: Any
) -> None:
    target = authorize("127.0.0.1")
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}])
    first = scan_start(
        team=team,
        user=user,
        workflow=workflow,
        target_ids=[target.pk],
        consent=True,
        mode="dry_run",
    )

    answer = operator_client.post(
        "/admin/scans/scan/", {"action": "rerun_scans", "_selected_action": [first.pk]}, follow=True
    )
    assert answer.status_code == 200
    again = Scan.objects.exclude(pk=first.pk).get()
    assert again.mode == "run"
    assert again.requested_by is not None and again.requested_by.email == "ops@example.test"
    assert list(again.targets.all()) == [target]

    authorize("127.0.0.1/32", excluded=True)
    answer = operator_client.post(
        "/admin/scans/scan/", {"action": "rerun_scans", "_selected_action": [first.pk]}, follow=True
    )
    assert "refused" in answer.content.decode()
    assert Scan.objects.count() == 2
