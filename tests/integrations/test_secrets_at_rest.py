"""Webhook URLs and signing secrets: encrypted at rest, shown masked, never written to logs (the
stdlib/structlog output, httpx's request logging, the NDJSON audit log)."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from integrations.crypto import SecretUnreadable, _fernet
from integrations.delivery import delivery_send
from integrations.models import Integration
from integrations.services import integration_test
from tests.integrations.conftest import SIGNING_SECRET

pytestmark = pytest.mark.django_db

SECRET_PATH = "/services/T0AAA1111/B0BBB2222/s3cr3tWebhookTokenXYZ"


def _raw_row(pk: int) -> str:
    """Every column of the integration's row as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM integrations_integration WHERE id = %s", [pk])
        return " ".join(str(value) for value in cursor.fetchone())


def test_the_stored_row_has_no_clear_text_url_or_secret(make_integration: Any) -> None:
    url = f"https://hooks.slack.com{SECRET_PATH}"
    slack = make_integration("slack", url)
    hook = make_integration("webhook", f"https://receiver.example{SECRET_PATH}")

    for integration in (slack, hook):
        raw = _raw_row(integration.pk)
        assert SECRET_PATH not in raw
        assert "s3cr3tWebhookTokenXYZ" not in raw
        assert SIGNING_SECRET not in raw
    assert slack.destination == "https://hooks.slack.com/…nXYZ"
    assert Integration.objects.get(pk=slack.pk).secrets() == {"url": url}
    assert Integration.objects.get(pk=hook.pk).secrets()["signing_secret"] == SIGNING_SECRET


def test_the_api_shows_the_url_masked_and_never_the_secret(
    owner_api: Any, make_integration: Any
) -> None:
    make_integration("webhook", f"https://receiver.example{SECRET_PATH}")

    answer = owner_api.get("/api/v1/integrations")
    text = answer.content.decode()
    assert answer.status_code == 200
    assert SECRET_PATH not in text and SIGNING_SECRET not in text
    [shown] = answer.json()["results"]
    assert shown["destination"] == "https://receiver.example/…nXYZ"
    assert "webhook_url" not in shown and "signing_secret" not in shown


def test_logs_and_the_audit_log_never_contain_the_url(
    settings: Any, receiver: Any, make_integration: Any, owner_api: Any, user: Any,
    capsys: Any, caplog: Any,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included, at their chattiest
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        url = receiver.url(SECRET_PATH)
        created = owner_api.post(
            "/api/v1/integrations",
            {
                "kind": "webhook",
                "name": "SIEM",
                "webhook_url": url,
                "signing_secret": SIGNING_SECRET,
            },
            format="json",
        )
        assert created.status_code == 201, created.json()
        integration = Integration.objects.get(pk=created.json()["id"])
        receiver.answers = [500, 404]  # a retry, then a final failure quoting the path
        delivery_send(integration_test(integration=integration, user=user).pk)
        owner_api.patch(
            f"/api/v1/integrations/{integration.pk}", {"webhook_url": url + "?v=2"}, format="json"
        )
        delivery_send(integration_test(integration=integration, user=user).pk)
    finally:
        logging.getLogger().removeHandler(handler)

    assert len(receiver.requests) == 3
    captured = capsys.readouterr()
    audit = settings.AUDIT_LOG_PATH.read_text()
    records = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    everything = "\n".join([stream.getvalue(), captured.out, captured.err, audit, records])
    assert "integration.created" in audit and "integration.tested" in audit
    assert "delivery.delivered" in everything  # the logs did record the deliveries
    for secret in (SECRET_PATH, "s3cr3tWebhookTokenXYZ", SIGNING_SECRET):
        assert secret not in everything
    deliveries = list(integration.deliveries.values_list("error", "attempt_log"))
    assert SECRET_PATH not in str(deliveries)


def test_an_error_answer_quoting_the_path_is_redacted_in_the_delivery_log(
    receiver: Any, make_integration: Any, user: Any
) -> None:
    integration = make_integration("slack", receiver.url(SECRET_PATH))
    receiver.answers = [404]
    delivery = integration_test(integration=integration, user=user)
    delivery_send(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.error.startswith("HTTP 404")
    assert SECRET_PATH not in delivery.error


def test_keys_rotate_and_a_lost_key_says_so(settings: Any, make_integration: Any) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.INTEGRATIONS_KEY = old_key
    integration = make_integration("slack", f"https://hooks.slack.com{SECRET_PATH}")
    before = integration.secrets_encrypted

    settings.INTEGRATIONS_KEY = f"{new_key},{old_key}"
    out = io.StringIO()
    call_command("integrations_rotate_key", stdout=out)
    integration.refresh_from_db()
    assert integration.secrets_encrypted != before
    assert "re-encrypted 1" in out.getvalue()

    settings.INTEGRATIONS_KEY = new_key  # the old key can go now
    assert integration.secrets()["url"].endswith(SECRET_PATH)
    settings.INTEGRATIONS_KEY = old_key
    assert integration.secrets_readable is False
    with pytest.raises(SecretUnreadable):
        integration.secrets()


@pytest.mark.smoke
def test_a_malformed_key_stops_the_system_check(settings: Any) -> None:
    from integrations.checks import integrations_key_check

    settings.INTEGRATIONS_KEY = "not-a-fernet-key"
    [error] = integrations_key_check()
    assert error.id == "integrations.E001"
    settings.INTEGRATIONS_KEY = ""
    assert integrations_key_check() == []
    _fernet.cache_clear()


def test_internal_urls_are_refused_when_private_addresses_are_not_allowed(
    settings: Any, owner_api: Any
) -> None:
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://[::1]/x"):
        answer = owner_api.post(
            "/api/v1/integrations",
            {"kind": "webhook", "name": "x", "webhook_url": url, "signing_secret": "s" * 20},
            format="json",
        )
        assert answer.status_code == 400
        assert "internal address" in answer.json()["errors"]["webhook_url"][0]
        assert url not in answer.content.decode()
