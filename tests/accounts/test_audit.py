"""The durable audit log: one NDJSON line and one row per API request with the same request id,
security events recorded, no secret ever written, and `GET /api/v1/audit` for owners only."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Membership, Role, Team, User
from accounts.services import IssuedKey
from tests.conftest import signup_link_from_outbox

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery 9"


def _lines() -> list[dict[str, Any]]:
    path = Path(settings.AUDIT_LOG_PATH)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _reset_token() -> str:
    found = re.search(r"Reset token: (\S+)", str(mail.outbox[-1].body))
    assert found is not None
    return found.group(1)


def _everything_written() -> str:
    """Every byte of the log directories plus every audit row, as one string to grep."""
    chunks = []
    for folder in {Path(settings.AUDIT_LOG_PATH).parent, Path(settings.LOG_DIR)}:
        for path in folder.rglob("*"):
            if path.is_file():
                chunks.append(path.read_bytes().decode(errors="replace"))
    for row in AuditEvent.objects.values():
        chunks.append(json.dumps(row, default=str))
    return "\n".join(chunks)


def test_an_api_call_writes_one_line_and_one_row_with_the_same_request_id(
    user: User, team: Team, issue_key: Callable[..., IssuedKey], api: Callable[..., APIClient]
) -> None:
    client = api(issue_key(user, team).raw_key)
    client.get("/api/v1/auth/me")  # the key's first use is an event of its own

    answer = client.get("/api/v1/auth/me", HTTP_X_REQUEST_ID="ci-run-4711.step-3")
    assert answer["X-Request-ID"] == "ci-run-4711.step-3"

    rows = list(AuditEvent.objects.filter(request_id="ci-run-4711.step-3"))
    lines = [line for line in _lines() if line["request_id"] == "ci-run-4711.step-3"]
    assert len(rows) == 1
    assert len(lines) == 1
    row, line = rows[0], lines[0]
    assert (row.action, line["action"]) == ("api.request", "api.request")
    assert row.status_code == line["status"] == 200
    assert row.path == line["path"] == "/api/v1/auth/me"
    assert row.method == line["method"] == "GET"
    assert row.user_id == line["user_id"] == user.pk
    assert row.team_id == line["team_id"] == team.pk
    assert row.outcome == line["outcome"] == "ok"
    assert row.duration_ms is not None and row.duration_ms >= 0
    assert row.client_ip == "127.0.0.1"
    assert row.detail["auth"] == "api_key"


def test_a_request_id_is_generated_when_none_or_an_unsafe_one_is_given(db: None) -> None:
    plain = APIClient().get("/api/v1/auth/me")
    assert re.fullmatch(r"[0-9a-f]{32}", plain["X-Request-ID"])
    hostile = APIClient().get("/api/v1/auth/me", HTTP_X_REQUEST_ID="x\nInjected: yes")
    assert hostile["X-Request-ID"] != "x\nInjected: yes"
    assert re.fullmatch(r"[0-9a-f]{32}", hostile["X-Request-ID"])
    denied = AuditEvent.objects.get(request_id=plain["X-Request-ID"])
    assert (denied.status_code, denied.outcome) == (401, "denied")
    assert Client().get("/accounts/login")["X-Request-ID"]


def test_no_key_token_or_password_is_ever_written(
    sync_tasks: None,
    make_user: Callable[..., User],
    register_over_api: Callable[[str], str],
) -> None:
    secrets: list[str] = [PASSWORD]
    key = register_over_api("ci@example.test")
    secrets.append(key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    secrets.append(
        client.post("/api/v1/auth/api-keys", {"name": "second"}, format="json").json()["key"]
    )
    jwt_answer = APIClient().post("/api/v1/auth/token", {"api_key": key}, format="json")
    secrets.append(jwt_answer.json()["access_token"])
    APIClient().get("/api/v1/auth/me", HTTP_X_API_KEY=key)
    APIClient().get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {key}x")  # a failed attempt

    APIClient().post("/api/v1/auth/reset-request", {"email": "ci@example.test"}, format="json")
    token = _reset_token()
    secrets.append(token)
    confirmed = APIClient().post(
        "/api/v1/auth/reset-confirm", {"email": "ci@example.test", "token": token}, format="json"
    )
    secrets.append(confirmed.json()["api_key"]["key"])

    # Browser side: sign-up (the mailed link's token), a failed and a good login, a password
    # change.
    browser = Client()
    browser.post("/accounts/signup", {"email": "web@example.test"})
    link = signup_link_from_outbox("web@example.test")
    secrets.append(link.rstrip("/").rsplit("/", 1)[1])
    set_password = browser.get(link)["Location"]
    browser.post(set_password, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    browser.post("/accounts/logout")
    browser.post(
        "/accounts/login", {"username": "web@example.test", "password": "Wrong-Password-77"}
    )
    secrets.append("Wrong-Password-77")
    browser.post("/accounts/login", {"username": "web@example.test", "password": PASSWORD})
    new_password = "another horse battery 10"
    secrets.append(new_password)
    browser.post(
        "/accounts/password",
        {
            "old_password": PASSWORD,
            "new_password1": new_password,
            "new_password2": new_password,
        },
    )
    created = browser.post("/accounts/api-keys/create", {"name": "page key", "role": "owner"})
    page_key = re.search(r'id="new-key">(opk_[^<]+)<', created.content.decode())
    assert page_key is not None
    secrets.append(page_key.group(1))

    written = _everything_written()
    assert "api_key.created" in written and "login" in written  # the log is not empty
    for secret in secrets:
        assert secret not in written


def test_security_events_are_recorded(
    sync_tasks: None,
    user: User,
    shared_team: Team,
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    browser = Client()
    browser.post("/accounts/login", {"username": user.email, "password": "nope nope nope"})
    browser.post("/accounts/login", {"username": user.email, "password": PASSWORD})
    issued = issue_key(user, shared_team)
    client = api(issued.raw_key)
    client.get("/api/v1/auth/me")
    colleague = make_user("colleague@example.test")
    invited = client.post(
        "/api/v1/teams/members", {"email": colleague.email, "role": "viewer"}, format="json"
    )
    assert invited.status_code == 202
    link = re.search(r"(/accounts/invitations/\S+)", str(mail.outbox[-1].body))
    assert link is not None
    joining = Client()
    joining.force_login(colleague)
    assert joining.post(link.group(1)).status_code == 302
    member_id = Membership.objects.get(team=shared_team, user=colleague).pk
    client.patch(f"/api/v1/teams/members/{member_id}", {"role": "analyst"}, format="json")
    client.delete(f"/api/v1/teams/members/{member_id}")
    client.delete(f"/api/v1/auth/api-keys/{issued.api_key.pk}")
    APIClient().post("/api/v1/auth/reset-request", {"email": user.email}, format="json")
    token = _reset_token()
    APIClient().post(
        "/api/v1/auth/reset-confirm", {"email": user.email, "token": token}, format="json"
    )
    APIClient().post(
        "/api/v1/auth/reset-confirm", {"email": user.email, "token": token}, format="json"
    )

    events = {(e.action, e.outcome) for e in AuditEvent.objects.all()}
    expected = {
        ("login", "failed"),
        ("login", "ok"),
        ("api_key.created", "ok"),
        ("api_key.first_used", "ok"),
        ("team.member_invited", "ok"),
        ("team.member_added", "ok"),
        ("team.member_role_changed", "ok"),
        ("team.member_removed", "ok"),
        ("api_key.revoked", "ok"),
        ("key_reset.requested", "ok"),
        ("key_reset.confirmed", "ok"),
        ("key_reset.confirmed", "failed"),
    }
    assert expected <= events
    added = AuditEvent.objects.get(action="team.member_added")
    assert added.detail == {"member": colleague.email, "role": "viewer", "invitation": True}
    assert added.team == shared_team
    # Every event also went to the NDJSON file.
    assert {(line["action"], line["outcome"]) for line in _lines()} >= expected


def test_owners_read_the_audit_log_with_filters(
    user: User,
    shared_team: Team,
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    analyst = make_member(shared_team, Role.ANALYST)
    viewer = make_member(shared_team, Role.VIEWER)
    owner = api(issue_key(user, shared_team).raw_key)
    owner.get("/api/v1/auth/me")  # first use
    owner.get("/api/v1/auth/me", HTTP_X_REQUEST_ID="find-me-0001")
    owner.get("/api/v1/auth/api-keys/999999")

    everything = owner.get("/api/v1/audit")
    assert everything.status_code == 200
    assert everything.json()["count"] >= 3
    by_request = owner.get("/api/v1/audit", {"request_id": "find-me-0001"}).json()["results"]
    assert [row["path"] for row in by_request] == ["/api/v1/auth/me"]
    not_found = owner.get("/api/v1/audit", {"status": "404", "action": "api.request"}).json()[
        "results"
    ]
    assert [row["path"] for row in not_found] == ["/api/v1/auth/api-keys/999999"]
    created = owner.get("/api/v1/audit", {"action": "api_key.created", "user": user.email}).json()
    assert created["count"] == 1
    assert owner.get("/api/v1/audit", {"since": "2999-01-01T00:00:00Z"}).json()["count"] == 0
    assert owner.get("/api/v1/audit", {"until": "2000-01-01T00:00:00Z"}).json()["count"] == 0
    assert owner.get("/api/v1/audit", {"outcome": "ok"}).status_code == 200
    assert owner.get("/api/v1/audit", {"status": "abc"}).status_code == 400
    assert owner.get("/api/v1/audit", {"since": "yesterday"}).status_code == 400
    assert owner.get("/api/v1/audit", {"page_size": 1}).json()["next"]

    for member in (analyst, viewer):
        denied = api(issue_key(member, shared_team).raw_key).get("/api/v1/audit")
        assert denied.status_code == 403


def test_the_account_holder_sees_their_logins_and_resets_in_their_audit_log(
    sync_tasks: None,
    user: User,
    team: Team,
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    stranger = make_user("stranger@example.test")
    Client().post("/accounts/login", {"username": user.email, "password": "guessing 12345"})
    Client().post("/accounts/login", {"username": user.email.upper(), "password": PASSWORD})
    Client().post("/accounts/login", {"username": stranger.email, "password": "guessing 12345"})
    APIClient().post("/api/v1/auth/reset-request", {"email": user.email}, format="json")

    owner = api(issue_key(user, team).raw_key)
    rows = owner.get("/api/v1/audit", {"page_size": 100}).json()["results"]
    seen = {(row["action"], row["outcome"]) for row in rows}
    assert {("login", "failed"), ("login", "ok"), ("key_reset.token_sent", "ok")} <= seen
    # Nothing about another account.
    assert all(row["user_email"] in (user.email, "") for row in rows)


def test_the_audit_row_of_an_api_call_is_written_after_the_answer(
    owner_api: Any, user: Any, team: Any, issue_key: Any
) -> None:
    """Through Django's WSGI handler as a server calls it: the response is complete before the
    audit INSERT, which happens when the server closes it (after sending the body)."""
    import io

    from django.core import signals
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import close_old_connections

    key = issue_key(user, team).raw_key
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/auth/me", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
    }  # fmt: skip
    before = AuditEvent.objects.filter(action="api.request").count()
    started: list[str] = []
    # As Django's test client does: the test database connection must stay open.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, cast(Any, lambda status, headers: started.append(status)))
        body = b"".join(response)
        assert started == ["200 OK"] and b"email" in body
        assert AuditEvent.objects.filter(action="api.request").count() == before
        response.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    row = AuditEvent.objects.filter(action="api.request").latest("pk")
    assert AuditEvent.objects.filter(action="api.request").count() == before + 1
    assert row.path == "/api/v1/auth/me" and row.status_code == 200 and row.request_id


def test_the_access_log_row_does_not_wait_for_the_disk_and_security_events_do(
    require_postgres: None, transactional_db: None, user: Any, team: Any, issue_key: Any, api: Any
) -> None:
    """An API request's row is committed without waiting for the database's disk flush (one
    statement, its own transaction with synchronous_commit off); a security event (a key issued)
    keeps the full wait."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(issue_key(user, team).raw_key)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/auth/me").status_code == 200
    sql = [q["sql"] for q in captured.captured_queries]
    inserts = [s for s in sql if s.startswith('INSERT INTO "accounts_auditevent"')]
    # The key's first use (a security event) waits; the request's own row, written last, not.
    assert len(inserts) == 2 and "api_key.first_used" in inserts[0]
    assert "synchronous_commit" not in inserts[0]
    assert inserts[1].endswith("set_config('synchronous_commit', 'off', true)")
    with connection.cursor() as cursor:  # local to that statement's transaction: nothing leaks
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    row = AuditEvent.objects.filter(action="api.request").latest("pk")
    assert row.path == "/api/v1/auth/me" and row.status_code == 200

    with CaptureQueriesContext(connection) as captured:
        issue_key(user, team, name="second")
    sql = [q["sql"] for q in captured.captured_queries]
    assert any(s.startswith('INSERT INTO "accounts_auditevent"') for s in sql)
    assert not any("synchronous_commit" in s for s in sql)


def test_the_ndjson_stream_can_go_to_stdout_for_log_shippers_instead_of_a_file(
    user: User, team: Team, issue_key: Callable[..., IssuedKey], api: Callable[..., APIClient],
    settings: Any, capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    settings.AUDIT_LOG_STDOUT = True
    settings.AUDIT_LOG_FILE = False
    client = api(issue_key(user, team).raw_key)

    client.get("/api/v1/auth/me", HTTP_X_REQUEST_ID="pod-log-1")

    lines = [
        json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")
    ]
    assert any(line.get("request_id") == "pod-log-1" for line in lines), lines
    assert all(line.get("request_id") != "pod-log-1" for line in _lines())  # not in the file
    assert AuditEvent.objects.filter(request_id="pod-log-1").exists()  # the record of truth
