"""The CI path without a browser: register, lose the key, reset it with an e-mailed token."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import KeyResetToken, User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sync_tasks")]


@pytest.fixture
def register(register_over_api: Callable[[str], str]) -> Callable[[str], str]:
    return register_over_api


ME = "/api/v1/auth/me"


def _bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _token_from_outbox(email: str) -> str:
    messages = [m for m in mail.outbox if email in m.to]
    assert len(messages) == 1
    found = re.search(r"Reset token: (\S+)", str(messages[0].body))
    assert found is not None
    return found.group(1)


def test_a_reset_token_from_the_mail_replaces_every_key_once(
    register: Callable[[str], str],
) -> None:
    old_key = register("ci@example.test")
    assert _bearer(old_key).get(ME).status_code == 200

    requested = APIClient().post(
        "/api/v1/auth/reset-request", {"email": "CI@example.test"}, format="json"
    )
    assert requested.status_code == 202
    token = _token_from_outbox("ci@example.test")

    confirm = {"email": "ci@example.test", "token": token}
    confirmed = APIClient().post("/api/v1/auth/reset-confirm", confirm, format="json")
    assert confirmed.status_code == 200, confirmed.content
    new_key = confirmed.json()["api_key"]["key"]
    assert new_key != old_key

    assert _bearer(new_key).get(ME).status_code == 200
    assert _bearer(old_key).get(ME).status_code == 401

    again = APIClient().post("/api/v1/auth/reset-confirm", confirm, format="json")
    assert again.status_code == 400
    assert again.json()["detail"] == "Invalid or expired reset token."
    assert _bearer(new_key).get(ME).status_code == 200


def test_the_answer_is_the_same_whether_or_not_the_account_exists(
    register: Callable[[str], str],
) -> None:
    register("known@example.test")
    known = APIClient().post(
        "/api/v1/auth/reset-request", {"email": "known@example.test"}, format="json"
    )
    unknown = APIClient().post(
        "/api/v1/auth/reset-request", {"email": "nobody@example.test"}, format="json"
    )
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [m.to for m in mail.outbox] == [["known@example.test"]]


def test_an_expired_token_is_refused(register: Callable[[str], str]) -> None:
    register("late@example.test")
    APIClient().post("/api/v1/auth/reset-request", {"email": "late@example.test"}, format="json")
    token = _token_from_outbox("late@example.test")
    KeyResetToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = APIClient().post(
        "/api/v1/auth/reset-confirm", {"email": "late@example.test", "token": token}, format="json"
    )
    assert answer.status_code == 400


def test_a_token_only_works_for_its_own_account(register: Callable[[str], str]) -> None:
    register("alice@example.test")
    bob_key = register("bob@example.test")
    APIClient().post("/api/v1/auth/reset-request", {"email": "alice@example.test"}, format="json")
    token = _token_from_outbox("alice@example.test")
    stolen = APIClient().post(
        "/api/v1/auth/reset-confirm", {"email": "bob@example.test", "token": token}, format="json"
    )
    assert stolen.status_code == 400
    assert _bearer(bob_key).get(ME).status_code == 200


def test_a_wrong_token_is_refused_and_nothing_changes(register: Callable[[str], str]) -> None:
    key = register("guess@example.test")
    answer = APIClient().post(
        "/api/v1/auth/reset-confirm",
        {"email": "guess@example.test", "token": "guessed"},
        format="json",
    )
    assert answer.status_code == 400
    assert _bearer(key).get(ME).status_code == 200


def test_registering_a_used_email_answers_as_for_a_new_one_and_mails_its_holder(
    register: Callable[[str], str],
) -> None:
    key = register("twice@example.test")
    again = APIClient().post(
        "/api/v1/auth/register", {"email": "Twice@Example.test"}, format="json"
    )
    new = APIClient().post("/api/v1/auth/register", {"email": "new@example.test"}, format="json")
    assert again.status_code == new.status_code == 202
    assert again.json() == new.json()
    assert "already exists" not in again.content.decode()
    notice = [m for m in mail.outbox if m.to == ["twice@example.test"]]
    assert len(notice) == 1 and "already has an account" in notice[0].body
    assert "token:" not in notice[0].body.lower() and "opk_" not in notice[0].body
    assert _bearer(key).get(ME).status_code == 200  # nothing changed for the holder
    assert User.objects.filter(email="twice@example.test").count() == 1
    assert User.objects.filter(email="new@example.test").exists()
