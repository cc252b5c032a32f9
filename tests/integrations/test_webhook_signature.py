"""The generic webhook: JSON body as documented in the README, signed with HMAC-SHA256 over
"<timestamp>.<body>"; the receiver checks the signature with the shared secret."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest

from integrations.delivery import delivery_send
from integrations.notify import scan_notify
from integrations.services import integration_update
from tests.integrations.conftest import SIGNING_SECRET, finding

pytestmark = pytest.mark.django_db


def receiver_accepts(
    headers: dict[str, str], body: bytes, secret: str, max_age_s: int = 300
) -> bool:
    """What a receiver does (the README's recipe): recompute and compare in constant time, and
    refuse old timestamps (replays)."""
    timestamp = headers["X-Outpost-Timestamp"]
    expected = (
        "sha256="
        + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    fresh = abs(time.time() - int(timestamp)) <= max_age_s
    return fresh and hmac.compare_digest(expected, headers["X-Outpost-Signature"])


def test_the_receiver_verifies_the_signature_with_the_shared_secret(
    receiver: Any, make_integration: Any, finished_scan: Any, user: Any
) -> None:
    integration = make_integration("webhook", receiver.url("/hooks/outpost"))
    scan = finished_scan(
        [finding("high", "Exposed admin panel"), finding("low", "Server banner", rule_id="banner")]
    )
    delivery = scan_notify(scan=scan, integration_id=integration.pk, user=user)

    assert delivery_send(delivery.pk) == "delivered"
    [request] = receiver.to("/hooks/outpost")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Outpost-Event"] == "manual"
    assert request.headers["X-Outpost-Delivery"] == str(delivery.pk)
    assert receiver_accepts(request.headers, request.body, SIGNING_SECRET)
    assert not receiver_accepts(request.headers, request.body, "another-secret-0123456789")
    assert not receiver_accepts(request.headers, request.body + b" ", SIGNING_SECRET)

    body = request.json()
    assert body["version"] == 1
    assert body["event"] == "manual"
    assert body["delivery_id"] == delivery.pk
    assert body["scan"]["id"] == scan.pk
    assert body["scan"]["url"].endswith(f"/scans/{scan.pk}/")
    assert body["scan"]["targets"] == ["example.test"]
    assert body["counts"] == {"high": 1, "low": 1}
    assert body["findings_total"] == 2
    assert [f["severity"] for f in body["findings"]] == ["high", "low"]
    assert set(body["findings"][0]) == {
        "severity", "title", "tool", "rule_id", "location", "component", "version",
        "fixed_version", "fingerprint", "is_new",
    }  # fmt: skip


def test_a_retry_sends_the_same_body_with_a_fresh_signature(
    settings: Any, receiver: Any, make_integration: Any, finished_scan: Any, user: Any
) -> None:
    settings.DELIVERY_RETRY_DELAYS_S = [1.1]
    integration = make_integration("webhook", receiver.url("/hooks/retry"))
    delivery = scan_notify(
        scan=finished_scan([finding("medium", "Weak TLS")]),
        integration_id=integration.pk,
        user=user,
    )
    receiver.answers = [502]

    assert delivery_send(delivery.pk) == "delivered"
    first, second = receiver.to("/hooks/retry")
    assert first.body == second.body
    assert first.headers["X-Outpost-Delivery"] == second.headers["X-Outpost-Delivery"]
    assert receiver_accepts(first.headers, first.body, SIGNING_SECRET)
    assert receiver_accepts(second.headers, second.body, SIGNING_SECRET)


def test_a_replaced_secret_signs_the_next_message(
    receiver: Any, make_integration: Any, user: Any
) -> None:
    from integrations.services import integration_test

    integration = make_integration("webhook", receiver.url("/hooks/rotate"))
    integration_update(integration=integration, user=user, signing_secret="a-brand-new-secret-4567")
    delivery_send(integration_test(integration=integration, user=user).pk)

    [request] = receiver.to("/hooks/rotate")
    assert receiver_accepts(request.headers, request.body, "a-brand-new-secret-4567")
    assert not receiver_accepts(request.headers, request.body, SIGNING_SECRET)
