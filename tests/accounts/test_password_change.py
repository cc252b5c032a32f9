"""The password page changes the password, keeps the session, and hashes with Argon2id."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import AuditEvent, User

pytestmark = pytest.mark.django_db

OLD = "correct horse battery 9"
NEW = "a brand new passphrase 42"


@pytest.fixture
def production_hashers(settings: Any) -> None:
    """The hashers of config/settings.py, not the test-cost Argon2id of tests/conftest.py."""
    from config import settings as project_settings

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS


def test_production_hashes_with_argon2id_first() -> None:
    from config import settings as project_settings

    assert (
        project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    )


def test_the_password_page_changes_the_password_to_an_argon2id_hash(
    production_hashers: None, user: User
) -> None:
    assert user.password.startswith("argon2$argon2id$")
    browser = Client()
    browser.force_login(user)
    assert browser.get("/accounts/password").status_code == 200
    answer = browser.post(
        "/accounts/password", {"old_password": OLD, "new_password1": NEW, "new_password2": NEW}
    )
    assert answer.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=102400,t=2,p=8$")
    assert user.check_password(NEW)
    assert not user.check_password(OLD)
    assert browser.get("/").status_code == 200  # still logged in
    assert AuditEvent.objects.filter(action="password.changed", user=user).count() == 1

    fresh = Client()
    assert (
        fresh.post("/accounts/login", {"username": user.email, "password": OLD}).status_code == 200
    )
    assert (
        fresh.post("/accounts/login", {"username": user.email, "password": NEW}).status_code == 302
    )


def test_a_wrong_old_password_or_a_weak_new_one_is_refused(user: User) -> None:
    browser = Client()
    browser.force_login(user)
    wrong = browser.post(
        "/accounts/password", {"old_password": "nope", "new_password1": NEW, "new_password2": NEW}
    )
    assert wrong.status_code == 200
    assert "old_password" in wrong.context["form"].errors
    weak = browser.post(
        "/accounts/password",
        {"old_password": OLD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert "new_password2" in weak.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_the_password_page_needs_a_login(db: None) -> None:
    answer = Client().get("/accounts/password")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login")


def test_a_legacy_pbkdf2_hash_is_upgraded_to_argon2id_at_login(user: User) -> None:
    from django.contrib.auth.hashers import make_password

    User.objects.filter(pk=user.pk).update(password=make_password(OLD, hasher="pbkdf2_sha256"))
    answer = Client().post("/accounts/login", {"username": user.email, "password": OLD})
    assert answer.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
