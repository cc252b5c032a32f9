"""Delivery: 10 s timeout, retries with backoff on 5xx/timeouts/connection errors (not on 4xx),
every attempt in the delivery log. Tasks run inline (sync_tasks): the real task code, no worker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django_q.models import Schedule

from integrations.delivery import delivery_send
from integrations.models import Delivery, DeliveryStatus
from integrations.services import integration_test

pytestmark = pytest.mark.django_db


def _test_delivery(integration: Any, user: Any) -> Delivery:
    delivery = integration_test(integration=integration, user=user)
    delivery.refresh_from_db()
    return delivery


def test_it_delivers_on_the_third_attempt_after_two_500s(
    sync_tasks: None, django_capture_on_commit_callbacks: Any, receiver: Any, make_integration: Any,
    user: Any,
) -> None:  # fmt: skip
    integration = make_integration("slack", receiver.url("/slack/T1/B2/abc"))
    receiver.answers = [500, 500, 200]

    with django_capture_on_commit_callbacks(execute=True):
        delivery = integration_test(integration=integration, user=user)
    delivery.refresh_from_db()

    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    assert [a["response_code"] for a in delivery.attempt_log] == [500, 500, 200]
    assert delivery.response_code == 200
    assert delivery.error == ""
    assert delivery.delivered_at is not None
    assert len(receiver.to("/slack/T1/B2/abc")) == 3


def test_a_400_is_not_retried(
    sync_tasks: None, django_capture_on_commit_callbacks: Any, receiver: Any, make_integration: Any,
    user: Any,
) -> None:  # fmt: skip
    integration = make_integration("discord", receiver.url("/discord/1/xyz"))
    receiver.answers = [400, 200]

    with django_capture_on_commit_callbacks(execute=True):
        delivery = integration_test(integration=integration, user=user)
    delivery.refresh_from_db()

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    assert delivery.response_code == 400
    assert delivery.error.startswith("HTTP 400")
    assert len(receiver.requests) == 1


def test_long_backoffs_are_scheduled_instead_of_holding_the_worker(
    settings: Any, receiver: Any, make_integration: Any, user: Any
) -> None:
    settings.DELIVERY_RETRY_DELAYS_S = [1, 120]
    integration = make_integration("webhook", receiver.url("/hook"))
    receiver.answers = [503, 503, 503]
    delivery = _test_delivery(integration, user)

    assert delivery_send(delivery.pk) == "retrying"
    delivery.refresh_from_db()
    # One inline retry after 1 s, then 120 s is too long to wait in a task: a one-off schedule.
    assert delivery.attempts == 2
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.next_attempt_at is not None
    retry = Schedule.objects.get(func="integrations.tasks.delivery_send", args=repr((delivery.pk,)))
    assert retry.schedule_type == Schedule.ONCE
    assert abs((retry.next_run - delivery.next_attempt_at).total_seconds()) < 1

    # The scheduled retry is the last allowed attempt: it fails for good.
    assert delivery_send(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3
    assert len(receiver.requests) == 3


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections, never answers (a receiver that hangs)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def test_a_timeout_is_retried_and_bounded_by_the_timeout(
    settings: Any, silent_port: int, make_integration: Any, user: Any
) -> None:
    settings.DELIVERY_TIMEOUT_S = 1
    settings.DELIVERY_RETRY_DELAYS_S = [60]
    integration = make_integration("slack", f"http://127.0.0.1:{silent_port}/slack/hook")
    delivery = _test_delivery(integration, user)

    assert delivery_send(delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.response_code is None
    assert "timed out after 1 s" in delivery.error
    assert delivery.attempt_log[0]["duration_ms"] < 3000


def test_a_refused_connection_is_retried(settings: Any, make_integration: Any, user: Any) -> None:
    settings.DELIVERY_RETRY_DELAYS_S = [0.1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    integration = make_integration("slack", f"http://127.0.0.1:{closed_port}/slack/hook")
    delivery = _test_delivery(integration, user)

    assert delivery_send(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert all("ConnectError" in a["error"] for a in delivery.attempt_log)


def test_a_429_waits_at_least_retry_after(
    settings: Any, receiver: Any, make_integration: Any, user: Any
) -> None:
    settings.DELIVERY_RETRY_DELAYS_S = [1]
    integration = make_integration("slack", receiver.url("/slack/rate"))
    receiver.answers = [429]
    delivery = _test_delivery(integration, user)

    # Slack's Retry-After is absent here, so the configured delay applies and is slept inline.
    assert delivery_send(delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert [a["response_code"] for a in delivery.attempt_log] == [429, 200]


def test_a_delivery_runs_once_when_its_task_arrives_twice(
    receiver: Any, make_integration: Any, user: Any
) -> None:
    integration = make_integration("slack", receiver.url("/slack/once"))
    delivery = _test_delivery(integration, user)

    assert delivery_send(delivery.pk) == "delivered"
    assert delivery_send(delivery.pk).startswith("not claimed")
    assert len(receiver.requests) == 1


def test_a_disabled_integration_sends_nothing_but_its_test_message(
    receiver: Any, make_integration: Any, finished_scan: Any, user: Any
) -> None:
    from integrations.notify import scan_notify
    from tests.integrations.conftest import finding

    integration = make_integration("slack", receiver.url("/slack/off"))
    scan = finished_scan([finding("high", "Exposed admin panel")])
    delivery = scan_notify(scan=scan, integration_id=integration.pk, user=user)
    integration.is_enabled = False
    integration.save()

    assert delivery_send(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.error == "the integration is disabled"
    assert delivery_send(_test_delivery(integration, user).pk) == "delivered"
    assert len(receiver.requests) == 1


def test_email_retries_a_4xx_smtp_answer_but_not_a_5xx(
    settings: Any, smtp_server: dict[str, Any], make_integration: Any, user: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server["port"]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DELIVERY_RETRY_DELAYS_S = [0.2]
    mailer = make_integration("email")

    smtp_server["mail_codes"] = [451]  # greylisted: try again
    retried = _test_delivery(mailer, user)
    assert delivery_send(retried.pk) == "delivered"
    retried.refresh_from_db()
    assert [a["response_code"] for a in retried.attempt_log] == [451, None]
    assert smtp_server["messages"] == 1

    smtp_server["mail_codes"] = [550]  # refused for good
    refused = _test_delivery(mailer, user)
    assert delivery_send(refused.pk) == "failed"
    refused.refresh_from_db()
    assert refused.attempts == 1 and refused.error == "SMTP 550: sender answer"
    assert smtp_server["messages"] == 1


def test_lost_deliveries_are_handed_to_the_broker_again_and_sent_once(
    sync_tasks: None, receiver: Any, make_integration: Any, user: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from integrations.apps import RESUME_LOST_NAME
    from integrations.delivery import deliveries_resume_lost

    integration = make_integration("slack", receiver.url("/slack/lost"))
    now = timezone.now()
    # A worker died mid-send five minutes ago; another delivery's task never reached a worker.
    died = _test_delivery(integration, user)
    Delivery.objects.filter(pk=died.pk).update(
        status=DeliveryStatus.SENDING, claimed_at=now - timedelta(minutes=5)
    )
    never_ran = _test_delivery(integration, user)
    Delivery.objects.filter(pk=never_ran.pk).update(created_at=now - timedelta(minutes=20))
    # Still in flight: a fresh claim and a fresh delivery are left alone.
    sending = _test_delivery(integration, user)
    Delivery.objects.filter(pk=sending.pk).update(
        status=DeliveryStatus.SENDING, claimed_at=now - timedelta(seconds=10)
    )
    fresh = _test_delivery(integration, user)

    assert deliveries_resume_lost() == 2

    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses[died.pk] == statuses[never_ran.pk] == DeliveryStatus.DELIVERED
    assert statuses[sending.pk] == DeliveryStatus.SENDING
    assert statuses[fresh.pk] == DeliveryStatus.PENDING
    assert len(receiver.to("/slack/lost")) == 2
    assert deliveries_resume_lost() == 0  # nothing lost any more
    # The sweep runs every minute on the workers (created after migrate, like the reaper).
    schedule = Schedule.objects.get(name=RESUME_LOST_NAME)
    assert schedule.func == "integrations.tasks.deliveries_resume_lost" and schedule.minutes == 1
