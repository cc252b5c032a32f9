"""The operators' queue page (issue #20): django-q2's queued and failed tasks and the worker
clusters, each task with the scan it belongs to; staff only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Failure
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from accounts.models import User
from scans.models import ScanStep
from scans.services import scan_start

pytestmark = pytest.mark.django_db


def test_the_queue_page_shows_queued_and_failed_tasks_with_their_scan(
    user: Any, team: Any, authorize: Any, make_workflow: Any
) -> None:
    workflow = make_workflow([{"id": "ports", "type": "port_scan", "config": {"ports": "80"}}])
    scan = scan_start(
        team=team, user=user, workflow=workflow, target_ids=[authorize("127.0.0.1").pk],
        consent=True,
    )  # fmt: skip
    step = ScanStep.objects.get(scan=scan)
    broker = get_broker()
    task_id = async_task("scans.tasks.step_run", step.pk, group=f"scan-{scan.pk}", broker=broker)
    Failure.objects.create(
        id="f" * 32, name="lost-step", func="scans.tasks.step_run", args=(step.pk,),
        kwargs={}, result="Traceback: boom", started=timezone.now(), stopped=timezone.now(),
        success=False, group="",
    )  # fmt: skip
    operator = User.objects.create_superuser("ops@example.test", "a-long-passphrase-42")
    client = Client()
    client.force_login(operator)
    try:
        page = client.get("/admin/queue/")
        body = page.content.decode()
        assert page.status_code == 200
        assert "scans.tasks.step_run" in body and f"(({step.pk},)" not in body
        assert (
            body.count(f'href="/admin/scans/scan/{scan.pk}/change/"') >= 3
        )  # queued, step, failed
        assert "Traceback: boom" in body
        assert 'href="/admin/queue/"' in client.get("/admin/").content.decode()
    finally:
        if type(broker).__name__.lower() == "redis":
            for payload in broker.connection.lrange(broker.list_key, 0, -1):
                if SignedPackage.loads(payload).get("id") == task_id:
                    broker.connection.lrem(broker.list_key, 1, payload)
    # Members who are not staff are sent to the admin login.
    client.force_login(user)
    assert client.get("/admin/queue/").status_code == 302
