"""Shared fixtures. Services (PostgreSQL, Redis, Docker, Chromium) are used for real; a test that
needs one skips with the reason when it is absent, unless OUTPOST_REQUIRE_SERVICES names it
(CI), which turns the skip into a failure."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import Membership, Role, Team, User
from accounts.services import IssuedKey, api_key_create, user_register

pytest_plugins = [
    "tests.workers",
    "tests.scanning",
    "tests.dns_zone",
    "tests.recon_app",
    "tests.sandbox_lab",
    "tests.scripted_dns",
    "tests.s3server",
    "tests.engine_relay",
    "tests.remote_engines",
    "tests.multihost",
]

TEST_STAGER_IMAGE = "outpost-test/busybox:1"  # built by build_test_images

REQUIRED_SERVICES = {
    s.strip() for s in os.environ.get("OUTPOST_REQUIRE_SERVICES", "").split(",") if s.strip()
}


def service_unavailable(name: str, reason: str) -> None:
    """Skip, or fail when CI requires the service."""
    if name in REQUIRED_SERVICES:
        pytest.fail(f"required service {name} is unavailable: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def require_postgres() -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        service_unavailable("postgres", "DATABASE_URL does not point at PostgreSQL")


@pytest.fixture
def require_redis() -> None:
    if not settings.REDIS_URL:
        service_unavailable("redis", "REDIS_URL is not set")


@pytest.fixture
def require_docker() -> Any:
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as exc:
        service_unavailable("docker", f"no Docker engine answers ({type(exc).__name__})")
    return client


@pytest.fixture
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        service_unavailable("chromium", "Debian's chromium is not installed")
    return path


@pytest.fixture(autouse=True)
def _isolated_runtime(settings: Any, tmp_path: Any) -> None:
    """Each test writes its audit log to its own file and runs without rate limits unless it
    turns them on (tests/accounts/test_rate_limits.py)."""
    settings.AUDIT_LOG_PATH = tmp_path / "log" / "requests.ndjson"
    settings.RATE_LIMIT_ENABLED = False
    settings.RATELIMIT_ENABLE = False
    # Argon2id at test cost (tests/hashers.py): production's takes ~1 s per hash under load.
    settings.PASSWORD_HASHERS = ["tests.hashers.FastArgon2idHasher", *settings.PASSWORD_HASHERS]
    # The Docker executor's file stager: the busybox image the tests build (no registry here).
    settings.TOOL_IMAGE_STAGER = TEST_STAGER_IMAGE


@pytest.fixture
def sync_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run django-q2 tasks inline (the real task code, without a worker process)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def register_over_api(sync_tasks: None) -> Callable[[str], str]:
    """The CI path of registration: `POST /auth/register` (202 whatever the address), the
    welcome mail's token (a worker task, run inline), `POST /auth/reset-confirm` → the first key."""
    import re

    from django.core import mail

    def register(email: str) -> str:
        answer = APIClient().post("/api/v1/auth/register", {"email": email}, format="json")
        assert answer.status_code == 202, answer.content
        sent = [m for m in mail.outbox if email.lower() in m.to and "First key token" in m.body]
        assert len(sent) == 1, [m.subject for m in mail.outbox]
        found = re.search(r"First key token: (\S+)", str(sent[0].body))
        assert found is not None
        mail.outbox.remove(sent[0])  # consumed here: tests count the mails that follow
        confirm = {"email": email, "token": found.group(1)}
        confirmed = APIClient().post("/api/v1/auth/reset-confirm", confirm, format="json")
        assert confirmed.status_code == 200, confirmed.content
        return str(confirmed.json()["api_key"]["key"])

    return register


SIGNUP_LINK_RE = r"(/accounts/signup/finish/\S+)"


def signup_link_from_outbox(email: str) -> str:
    """The path of the one sign-up mail to `email` (a worker sent it), removed from the outbox:
    tests count the mails that follow."""
    import re

    from django.core import mail

    sent = [m for m in mail.outbox if email.lower() in m.to and "/signup/finish/" in m.body]
    assert len(sent) == 1, [m.subject for m in mail.outbox]
    mail.outbox.remove(sent[0])
    found = re.search(SIGNUP_LINK_RE, str(sent[0].body))
    assert found is not None
    return found.group(1)


@pytest.fixture
def sign_up_in_browser(sync_tasks: None) -> Callable[..., Any]:
    """The browser path of sign-up: the form (the same redirect whatever the address), the link
    of the mail a worker sends (the task run inline), the password set there. Returns the last
    answer: a redirect, logged in, when the password was accepted."""

    def sign_up(
        browser: Any,
        email: str,
        password: str = "correct horse battery 9",  # noqa: S107
        *,
        display_name: str = "",
        next_path: str = "",
    ) -> Any:
        form = {"email": email, "display_name": display_name}
        if next_path:
            form["next"] = next_path
        answer = browser.post("/accounts/signup", form)
        assert (answer.status_code, answer["Location"]) == (302, "/accounts/signup/sent")
        opened = browser.get(signup_link_from_outbox(email))
        assert opened.status_code == 302, opened.content  # the token moves into the session
        passwords = {"new_password1": password, "new_password2": password}
        return browser.post(opened["Location"], passwords)

    return sign_up


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    counter = {"n": 0}

    def factory(email: str | None = None, password: str = "correct horse battery 9") -> User:  # noqa: S107
        counter["n"] += 1
        return user_register(email=email or f"user{counter['n']}@example.test", password=password)

    return factory


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user("analyst@example.test")


@pytest.fixture
def team(user: User) -> Team:
    return Team.objects.get(personal_owner=user)


@pytest.fixture
def make_member(make_user: Callable[..., User]) -> Callable[..., User]:
    """A new user who is a member of `team` with `role`."""

    def factory(team: Team, role: str = Role.ANALYST, email: str | None = None) -> User:
        member = make_user(email)
        Membership.objects.create(team=team, user=member, role=role)
        return member

    return factory


@pytest.fixture
def issue_key() -> Callable[..., IssuedKey]:
    issued: list[IssuedKey] = []

    def factory(
        user: User, team: Team, role: str | None = None, name: str | None = None
    ) -> IssuedKey:
        # A person's live keys need different names: the default is numbered.
        key = api_key_create(
            team=team, user=user, name=name or f"test {len(issued) + 1}", role=role
        )
        issued.append(key)
        return key

    return factory


@pytest.fixture
def api() -> Callable[[str | None], APIClient]:
    """An API client, authenticated with a Bearer credential when one is given."""

    def factory(credential: str | None = None) -> APIClient:
        client = APIClient()
        if credential:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {credential}")
        return client

    return factory


@pytest.fixture
def owner_api(
    user: User, team: Team, issue_key: Callable[..., IssuedKey], api: Callable[..., APIClient]
) -> APIClient:
    return api(issue_key(user, team).raw_key)


@pytest.fixture
def shared_team(user: User) -> Iterator[Team]:
    from accounts.services import team_create

    yield team_create(name="Red team", owner=user)


@dataclass
class Clock:
    """Moves Django's `timezone.now()` forward without sleeping (see the `clock` fixture)."""

    offset: timedelta = field(default_factory=timedelta)

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """`clock.advance(days=31)` makes every `timezone.now()` (services, scheduled jobs, the live
    server's requests) 31 days later; the real time keeps running underneath."""
    from django.utils import timezone as django_timezone

    real_now = django_timezone.now
    moved = Clock()
    monkeypatch.setattr(django_timezone, "now", lambda: real_now() + moved.offset)
    return moved
