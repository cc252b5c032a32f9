"""CSP without inline scripts and X-Frame-Options DENY on every page; production settings refuse
a default secret and pass `check --deploy`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = [
    "/accounts/login",
    "/accounts/signup",
    "/health",
    "/api/docs",
    "/api/schema",
    "/no-such-page",
    "/api/v1/auth/me",
    "/api/v1/nope",
]
PRIVATE = ["/", "/accounts/api-keys", "/accounts/teams", "/accounts/password"]


def _script_src(policy: str) -> str:
    found = re.search(r"script-src ([^;]+)", policy)
    assert found is not None, policy
    return found.group(1)


def _assert_headers(answer: Any, path: str) -> None:
    policy = answer["Content-Security-Policy"]
    script_src = _script_src(policy)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, path
    assert "*" not in script_src and "http" not in script_src, path
    assert "frame-ancestors 'none'" in policy, path
    assert "object-src 'none'" in policy, path
    assert answer["X-Frame-Options"] == "DENY", path
    assert answer["X-Content-Type-Options"] == "nosniff", path
    assert answer["Referrer-Policy"] == "same-origin", path


def test_every_page_has_a_strict_csp_and_refuses_framing(user: User) -> None:
    for path in PUBLIC:
        _assert_headers(Client().get(path), path)
    browser = Client()
    browser.force_login(user)
    for path in PRIVATE:
        answer = browser.get(path)
        assert answer.status_code == 200, path
        _assert_headers(answer, path)
        page = answer.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), f"inline script in {path}"
        assert " style=" not in page, f"inline style in {path}"
        assert " onclick=" not in page.lower() and " onload=" not in page.lower()


def test_pages_that_need_a_login_redirect_to_it(db: None) -> None:
    for path in PRIVATE:
        answer = Client().get(path)
        assert answer.status_code == 302, path
        assert answer["Location"].startswith("/accounts/login?next="), path


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ENVIRONMENT", "DEBUG", "ALLOWED_HOSTS"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "secret", [None, "dev-only-insecure-secret-key-change-me-outpost-0000000000000000", "short"]
)
def test_production_refuses_to_start_without_a_real_secret_key(
    secret: str | None, tmp_path: Path
) -> None:
    env = {
        "ENVIRONMENT": "production",
        "ALLOWED_HOSTS": "outpost.example.com",
        "OUTPOST_VAR_DIR": str(tmp_path),
    }
    if secret is not None:
        env["SECRET_KEY"] = secret
    done = _manage(env, "check")
    assert done.returncode != 0
    assert "refuses to start without SECRET_KEY" in done.stderr


def test_check_deploy_is_clean_in_production(tmp_path: Path) -> None:
    env = {
        "ENVIRONMENT": "production",
        "SECRET_KEY": "k8Jw3-" + "x7Qz9vLm2NpR4sT6uY8aB0cD1eF3gH5iJ7kL9mN0oP2qR4sT6uV8wX0yZ",
        "ALLOWED_HOSTS": "outpost.example.com",
        "OUTPOST_VAR_DIR": str(tmp_path),
    }
    done = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_turns_debug_off_even_when_asked(tmp_path: Path) -> None:
    env = {
        "ENVIRONMENT": "production",
        "DEBUG": "true",
        "OUTPOST_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "k8Jw3-" + "x7Qz9vLm2NpR4sT6uY8aB0cD1eF3gH5iJ7kL9mN0oP2qR4sT6uV8wX0yZ",
        "ALLOWED_HOSTS": "outpost.example.com",
    }
    code = "from django.conf import settings; print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)"
    done = _manage(env, "shell", "--no-imports", "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False True"
