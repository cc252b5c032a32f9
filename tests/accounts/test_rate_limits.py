"""Rate limits on login, register, reset and token: the (N+1)th attempt in the window gets 429
with Retry-After, counted per client IP and per account; RATE_LIMIT_ENABLED=false turns them off."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 3


@pytest.fixture
def limits(settings: Any) -> None:
    """Turn limits on at 3 per hour (an hour, so no window boundary falls inside a test).
    Redis keeps counters between runs, so each test counts under its own cache prefix."""
    settings.RATE_LIMIT_ENABLED = True
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_CACHE_PREFIX = f"rl-test-{uuid.uuid4().hex}:"
    settings.RATE_LIMITS = {
        group: f"{LIMIT}/h" for group in ("login", "register", "reset", "token", "scan")
    }


WRONG_PASSWORD = "wrong password 123"


def _login(email: str, ip: str = "127.0.0.1", password: str = WRONG_PASSWORD) -> Any:
    return Client(REMOTE_ADDR=ip).post("/accounts/login", {"username": email, "password": password})


def test_the_login_after_the_limit_gets_429_with_retry_after(limits: None, user: User) -> None:
    for _ in range(LIMIT):
        assert _login(user.email).status_code == 200  # the form again, with an error
    blocked = _login(user.email)
    assert blocked.status_code == 429
    assert 0 < int(blocked["Retry-After"]) <= 3600
    assert "Too many attempts" in blocked.content.decode()
    # Even the right password waits: the limit is checked before the password.
    assert _login(user.email, password="correct horse battery 9").status_code == 429


def test_login_attempts_count_per_ip_across_accounts(limits: None, db: None) -> None:
    for n in range(LIMIT):
        assert _login(f"spray{n}@example.test", ip="10.0.0.1").status_code == 200
    assert _login("spray-next@example.test", ip="10.0.0.1").status_code == 429
    assert _login("spray-next@example.test", ip="10.0.0.2").status_code == 200


def test_login_attempts_count_per_account_across_ips(limits: None, user: User) -> None:
    for n in range(LIMIT):
        assert _login(user.email, ip=f"10.0.1.{n + 1}").status_code == 200
    assert _login(user.email.upper(), ip="10.0.1.200").status_code == 429
    assert _login("someone-else@example.test", ip="10.0.1.201").status_code == 200


def test_register_is_limited(limits: None, db: None) -> None:
    client = APIClient(REMOTE_ADDR="10.0.2.1")
    for n in range(LIMIT):
        answer = client.post(
            "/api/v1/auth/register", {"email": f"r{n}@example.test"}, format="json"
        )
        assert answer.status_code == 202
    blocked = client.post("/api/v1/auth/register", {"email": "r9@example.test"}, format="json")
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert blocked.json()["detail"].startswith("Too many attempts")
    assert not User.objects.filter(email="r9@example.test").exists()


def test_the_signup_page_is_limited(limits: None, db: None) -> None:
    browser = Client(REMOTE_ADDR="10.0.2.2")
    for n in range(LIMIT):
        browser.post("/accounts/signup", {"email": f"s{n}@example.test"})
    assert browser.post("/accounts/signup", {"email": "s9@example.test"}).status_code == 429


def test_reset_request_and_confirm_are_limited_per_account(
    limits: None, user: User, sync_tasks: None
) -> None:
    for n in range(LIMIT):
        client = APIClient(REMOTE_ADDR=f"10.0.3.{n + 1}")
        assert (
            client.post(
                "/api/v1/auth/reset-request", {"email": user.email}, format="json"
            ).status_code
            == 202
        )
    blocked = APIClient(REMOTE_ADDR="10.0.3.100").post(
        "/api/v1/auth/reset-confirm", {"email": user.email, "token": "guess"}, format="json"
    )
    assert blocked.status_code == 429
    assert "Retry-After" in blocked


def test_token_exchange_is_limited_per_ip(
    limits: None, user: User, issue_key: Callable[..., Any], team: Any
) -> None:
    key = issue_key(user, team).raw_key
    client = APIClient(REMOTE_ADDR="10.0.4.1")
    for _ in range(LIMIT):
        assert client.post("/api/v1/auth/token", {"api_key": key}, format="json").status_code == 200
    blocked = client.post("/api/v1/auth/token", {"api_key": key}, format="json")
    assert blocked.status_code == 429
    assert "Retry-After" in blocked
    other_ip = APIClient(REMOTE_ADDR="10.0.4.2")
    assert other_ip.post("/api/v1/auth/token", {"api_key": key}, format="json").status_code == 200


def test_turning_limits_off_lets_every_attempt_through(settings: Any, user: User) -> None:
    settings.RATE_LIMIT_ENABLED = False
    settings.RATELIMIT_ENABLE = False
    settings.RATE_LIMITS = {
        group: "1/h" for group in ("login", "register", "reset", "token", "scan")
    }
    for _ in range(5):
        assert _login(user.email).status_code == 200


def test_the_environment_variable_turns_limits_off() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RATE_LIMIT_ENABLED"}
    code = "from django.conf import settings; print(settings.RATE_LIMIT_ENABLED, settings.RATELIMIT_ENABLE)"

    def read(value: str | None) -> str:
        run_env = dict(env) if value is None else {**env, "RATE_LIMIT_ENABLED": value}
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
            cwd=ROOT,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    assert read("false") == "False False"
    assert read(None) == "True True"


def test_a_forged_x_forwarded_for_does_not_dodge_the_per_ip_limit(limits: None, db: None) -> None:
    # No trusted proxy (the default): the header is the client's own word, and is ignored.
    for n in range(LIMIT):
        answer = Client(REMOTE_ADDR="10.0.5.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(
            "/accounts/login", {"username": f"x{n}@example.test", "password": WRONG_PASSWORD}
        )
        assert answer.status_code == 200
    blocked = Client(REMOTE_ADDR="10.0.5.1", HTTP_X_FORWARDED_FOR="192.0.2.99").post(
        "/accounts/login", {"username": "x9@example.test", "password": WRONG_PASSWORD}
    )
    assert blocked.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_address_counts(
    limits: None, settings: Any, db: None
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.6.1"
    for n in range(LIMIT):
        answer = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7").post(
            "/accounts/login", {"username": f"p{n}@example.test", "password": WRONG_PASSWORD}
        )
        assert answer.status_code == 200
    same_client = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert same_client.post("/accounts/login", {"username": "p9@example.test"}).status_code == 429
    # Another client behind the same proxy is not blocked; a spoofed first hop is ignored.
    other = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.4")
    assert other.post("/accounts/login", {"username": "q@example.test"}).status_code == 200


def test_attempts_are_refused_while_the_counters_are_unreachable(
    limits: None, settings: Any, user: User
) -> None:
    # A Redis that does not answer (nothing listens on port 1): the limiter fails closed with a
    # 429 and Retry-After, never a 500 and never an uncounted password guess.
    settings.CACHES = {
        **settings.CACHES,
        "counters-down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.RATELIMIT_USE_CACHE = "counters-down"

    refused = _login(user.email, password="correct horse battery 9")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 30
    token = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/v1/auth/token", {"api_key": "opk_x"}, format="json"
    )
    assert token.status_code == 429
