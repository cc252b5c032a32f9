"""Sending a Delivery, always from a worker task, with bounded retries.

- A delivery is claimed with a conditional UPDATE (pending/retrying → sending), so a task
  delivered twice sends once; a claim older than DELIVERY_STALE_S (a worker died mid-send) may be
  taken over, and `deliveries_resume_lost` (every minute) hands such deliveries, and ones whose
  task was lost, to the broker again.
- Each attempt is bounded by DELIVERY_TIMEOUT_S (10 s). 5xx, 429, timeouts and connection errors
  are retried after DELIVERY_RETRY_DELAYS_S (1, 2, 60, 300 s by default: five attempts); a 4xx, a
  redirect or a refused URL is final at once.
- Short delays (≤ DELIVERY_INLINE_RETRY_MAX_S) are slept inside the task while the task has spent
  less than DELIVERY_INLINE_BUDGET_S, so a receiver that hiccups costs seconds, not a scheduler
  round; longer delays end the task and re-enqueue it with a one-off django-q2 schedule, so no
  worker is held while a receiver is down. A delivery task therefore holds a worker for at most
  about DELIVERY_INLINE_BUDGET_S plus one attempt's timeout.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.crypto import SecretUnreadable
from integrations.kinds import kind_module
from integrations.messages import Message
from integrations.models import Delivery, DeliveryEvent, DeliveryStatus, Integration
from integrations.outbound import Attempt

log = structlog.get_logger(__name__)


def delivery_create(
    *,
    integration: Integration,
    message: Message,
    event: str,
    scan: Any = None,
    user: Any = None,
    dedup_key: str | None = None,
) -> Delivery | None:
    """Record a message for `integration` and hand it to a worker after the commit. With a
    `dedup_key` already used, nothing is created (None): a rule fires once per scan."""
    fields = {
        "integration": integration,
        "scan": scan,
        "event": event,
        "payload": message.to_dict(),
        "summary": message.title[:300],
        "requested_by": user if user is not None and user.is_authenticated else None,
    }
    with transaction.atomic():
        if dedup_key:
            delivery, created = Delivery.objects.get_or_create(dedup_key=dedup_key, defaults=fields)
            if not created:
                return None
        else:
            delivery = Delivery.objects.create(**fields)
        transaction.on_commit(lambda: delivery_enqueue(delivery.pk))
    log.info(
        "delivery.queued",
        delivery_id=delivery.pk,
        integration_id=integration.pk,
        kind=integration.kind,
        delivery_event=event,
    )
    return delivery


def delivery_enqueue(delivery_id: int, *, at: Any = None) -> None:
    """Hand the delivery to the broker now, or at `at` through a one-off schedule."""
    from django_q.models import Schedule
    from django_q.tasks import async_task

    if at is not None and at > timezone.now():
        Schedule.objects.create(
            name=f"delivery-{delivery_id}-{int(at.timestamp())}"[:100],
            func="integrations.tasks.delivery_send",
            args=repr((delivery_id,)),
            schedule_type=Schedule.ONCE,
            repeats=-1,  # a ONCE schedule with negative repeats is deleted after it fires
            next_run=at,
        )
        return
    async_task(
        "integrations.tasks.delivery_send",
        delivery_id,
        task_name=f"delivery-{delivery_id}",
        group="deliveries",
        timeout=int(settings.DELIVERY_INLINE_BUDGET_S + settings.DELIVERY_TIMEOUT_S + 60),
    )


# A delivery whose task or retry schedule should have run this long ago was lost (a worker killed
# before it ran the task, a flushed Redis).
LOST_AFTER_S = 600


def deliveries_resume_lost() -> int:
    """Hand lost deliveries to the broker again (the `outpost: resume lost deliveries` schedule,
    every minute): a "sending" claim older than DELIVERY_STALE_S (its worker died mid-send), and
    a pending or retrying delivery whose task never ran. The claim makes a duplicate harmless:
    if the first task runs after all, only one of them sends."""
    now = timezone.now()
    lost = now - timedelta(seconds=LOST_AFTER_S)
    ids = list(
        Delivery.objects.filter(
            Q(
                status=DeliveryStatus.SENDING,
                claimed_at__lt=now - timedelta(seconds=settings.DELIVERY_STALE_S),
            )
            | Q(status=DeliveryStatus.PENDING, next_attempt_at__isnull=True, created_at__lt=lost)
            | Q(
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
                next_attempt_at__lt=lost,
            )
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for delivery_id in ids:
        delivery_enqueue(delivery_id)
    if ids:
        log.info("deliveries.resumed", count=len(ids))
    return len(ids)


def retry_delay_s(attempts: int, retry_after_s: float | None = None) -> float | None:
    """Seconds to wait after `attempts` failed attempts, or None when none are left."""
    delays = settings.DELIVERY_RETRY_DELAYS_S
    if attempts > len(delays):
        return None
    delay = float(delays[attempts - 1])
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, 3600.0))
    return delay


def delivery_claim(delivery_id: int) -> Delivery | None:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.DELIVERY_STALE_S)
    claimed = (
        Delivery.objects.filter(pk=delivery_id)
        .filter(
            Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
            | Q(status=DeliveryStatus.SENDING, claimed_at__lt=stale)
        )
        .update(status=DeliveryStatus.SENDING, claimed_at=now, next_attempt_at=None)
    )
    if claimed != 1:
        return None
    return Delivery.objects.select_related("integration", "integration__team").get(pk=delivery_id)


def _attempt(delivery: Delivery) -> Attempt:
    integration = delivery.integration
    if not integration.is_enabled and delivery.event != DeliveryEvent.TEST:
        return Attempt(ok=False, error="the integration is disabled")
    try:
        secrets = integration.secrets()
        module = kind_module(integration.kind)
    except SecretUnreadable as exc:
        return Attempt(ok=False, error=str(exc))
    except KeyError as exc:
        return Attempt(ok=False, error=str(exc))
    message = Message.from_dict(delivery.payload)
    return module.deliver(  # type: ignore[no-any-return]
        integration=integration, message=message, delivery_id=delivery.pk, secrets=secrets
    )


def _record(delivery: Delivery, attempt: Attempt) -> None:
    delivery.attempts += 1
    delivery.response_code = attempt.response_code
    delivery.error = attempt.error[:2000]
    delivery.attempt_log = [
        *delivery.attempt_log,
        {
            "at": timezone.now().isoformat(),
            "response_code": attempt.response_code,
            "error": attempt.error[:500],
            "duration_ms": attempt.duration_ms,
        },
    ][-20:]


def delivery_send(delivery_id: int) -> str:
    """Send one delivery (the django-q2 task body); returns the outcome for the task record."""
    delivery = delivery_claim(delivery_id)
    if delivery is None:
        return "not claimed (already sent, being sent, or gone)"
    started = time.monotonic()
    while True:
        attempt = _attempt(delivery)
        _record(delivery, attempt)
        context = {
            "delivery_id": delivery.pk,
            "integration_id": delivery.integration_id,
            "attempt": delivery.attempts,
            "response_code": attempt.response_code,
        }
        if attempt.ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.error = ""
            delivery.save()
            log.info("delivery.delivered", **context)
            return "delivered"
        delay = (
            retry_delay_s(delivery.attempts, attempt.retry_after_s) if attempt.retryable else None
        )
        if delay is None:
            delivery.status = DeliveryStatus.FAILED
            delivery.save()
            log.warning("delivery.failed", error=attempt.error[:300], **context)
            return "failed"
        spent = time.monotonic() - started
        if (
            delay <= settings.DELIVERY_INLINE_RETRY_MAX_S
            and spent + delay <= settings.DELIVERY_INLINE_BUDGET_S
        ):
            delivery.claimed_at = timezone.now()
            delivery.save()
            log.info("delivery.retrying", delay_s=delay, inline=True, **context)
            time.sleep(delay)
            continue
        at = timezone.now() + timedelta(seconds=delay)
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_attempt_at = at
        delivery.save()
        log.info("delivery.retrying", delay_s=delay, inline=False, **context)
        delivery_enqueue(delivery.pk, at=at)
        return "retrying"
