"""The sign-up page does not tell which addresses have accounts: a taken and a free address get
the same answer (status, body, headers, the same database statements, no measurable difference
in time); a worker mails the free one a link that sets its password and logs it in, once, and
tells the holder of the taken one that someone tried (with a link to set a new password)."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent, Membership, Role, Team, User
from tests.conftest import signup_link_from_outbox

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery 9"
# Differ by request (its id) or by session (its cookie); everything else must be the same.
PER_REQUEST_HEADERS = {"X-Request-ID", "Set-Cookie"}


def _signup(browser: Client, email: str) -> Any:
    return browser.post("/accounts/signup", {"email": email, "display_name": "Someone"})


def _shape(sql: str) -> str:
    """A statement without its values: the literals of a taken and a free address differ."""
    return re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b", "?", sql)


def test_a_taken_and_a_free_address_get_the_same_answer(make_user: Callable[..., User]) -> None:
    make_user("taken@example.test")
    _signup(Client(), "warm-up@example.test")  # caches filled on a first request
    answers = []
    statements = []
    for email in ("taken@example.test", "free@example.test"):
        with CaptureQueriesContext(connection) as queries:
            answer = _signup(Client(), email)
        answers.append(answer)
        statements.append([_shape(q["sql"]) for q in queries.captured_queries])
    taken, free = answers
    assert taken.status_code == free.status_code == 302
    assert taken.content == free.content
    headers = [{k: v for k, v in a.items() if k not in PER_REQUEST_HEADERS} for a in answers]
    assert headers[0] == headers[1]
    assert taken["Location"] == "/accounts/signup/sent"
    assert statements[0] == statements[1]  # the request never looked the address up
    sent = Client().get(taken["Location"])
    assert "Check your e-mail to finish signing up" in sent.content.decode()
    # Nothing happened in the request itself: the worker does it.
    assert not User.objects.filter(email="free@example.test").exists()


def test_the_two_answers_take_the_same_time(make_user: Callable[..., User]) -> None:
    """Interleaved, in turns first, so the machine's load changes hit both alike. The old page hashed the
    password and logged a free address in, and looked a taken one up and refused it."""
    make_user("taken@example.test")
    taken_ms: list[float] = []
    free_ms: list[float] = []
    browser = Client()
    _signup(browser, "warm-up@example.test")
    for n in range(30):
        pair = [("taken@example.test", taken_ms), (f"free{n}@example.test", free_ms)]
        for email, times in pair if n % 2 else reversed(pair):
            started = time.perf_counter()
            assert _signup(browser, email).status_code == 302
            times.append((time.perf_counter() - started) * 1000)
    taken, free = statistics.median(taken_ms), statistics.median(free_ms)
    print(f"sign-up answer, median of 30: taken {taken:.2f} ms, free {free:.2f} ms")
    assert abs(taken - free) < max(3.0, 0.25 * min(taken, free)), (taken, free)


def test_the_mailed_link_sets_the_password_logs_in_and_works_once(
    sign_up_in_browser: Callable[..., Any],
) -> None:
    browser = Client()
    _signup(browser, "New.Person@Example.test")
    link = signup_link_from_outbox("new.person@example.test")
    user = User.objects.get(email="new.person@example.test")
    assert not user.has_usable_password()  # nobody can log in before the mailbox is proved
    team = Team.objects.get(personal_owner=user)
    assert team.name == "Someone's team"
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER

    opened = browser.get(link)
    assert opened.status_code == 302 and opened["Location"].endswith("/set-password")
    form = browser.get(opened["Location"])
    assert form.status_code == 200 and "new.person@example.test" in form.content.decode()
    weak = browser.post(opened["Location"], {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200 and "new_password2" in weak.context["form"].errors
    done = browser.post(opened["Location"], {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/"
    home = browser.get("/")
    assert home.context["current_team"] == team
    assert AuditEvent.objects.filter(action="password.set", user=user).count() == 1

    for again in (browser, Client()):
        refused = again.get(link)
        assert refused.status_code == 404
        assert "This link does not work" in refused.content.decode()
    assert Client().login(username="new.person@example.test", password=PASSWORD)


def test_the_holder_of_a_taken_address_is_told_and_nothing_changes(
    make_user: Callable[..., User], sync_tasks: None
) -> None:
    holder = make_user("taken@example.test", password=PASSWORD)
    _signup(Client(), "Taken@Example.test")
    [told] = [m for m in mail.outbox if m.to == ["taken@example.test"]]
    assert told.subject == "Someone tried to sign up with your e-mail on Outpost"
    assert "Nothing was changed" in told.body
    assert User.objects.filter(email="taken@example.test").count() == 1
    holder.refresh_from_db()
    assert holder.check_password(PASSWORD)  # (logging in would spend the mail's link)
    assert Team.objects.filter(personal_owner=holder).count() == 1

    # The mail's link is how its holder sets a new password when they forgot theirs; once.
    link = signup_link_from_outbox("taken@example.test")
    browser = Client()
    opened = browser.get(link)
    new = "another horse battery 10"
    done = browser.post(opened["Location"], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert Client().login(username="taken@example.test", password=new)
    assert Client().get(link).status_code == 404


def test_an_unfinished_sign_up_asked_again_gets_the_welcome_link_again(sync_tasks: None) -> None:
    _signup(Client(), "late@example.test")
    first = signup_link_from_outbox("late@example.test")
    _signup(Client(), "late@example.test")
    [again] = [m for m in mail.outbox if m.to == ["late@example.test"]]
    assert again.subject == "Finish signing up to Outpost"
    second = signup_link_from_outbox("late@example.test")
    browser = Client()
    opened = browser.get(second)
    assert (
        browser.post(
            opened["Location"], {"new_password1": PASSWORD, "new_password2": PASSWORD}
        ).status_code
        == 302
    )
    assert Client().get(first).status_code == 404  # the password is set: every link is spent


def test_the_page_and_the_api_go_through_the_same_registration(sync_tasks: None) -> None:
    _signup(Client(), "page@example.test")
    Client().post(
        "/api/v1/auth/register", {"email": "api@example.test"}, content_type="application/json"
    )
    vias = dict(
        AuditEvent.objects.filter(action="account.register_requested").values_list(
            "user_email", "detail__via"
        )
    )
    assert vias == {"page@example.test": "browser", "api@example.test": "api"}
    assert User.objects.filter(email__in=["page@example.test", "api@example.test"]).count() == 2


def test_sign_up_shows_errors_next_to_the_fields(db: None) -> None:
    answer = Client().post("/accounts/signup", {"email": "bad", "display_name": "x" * 200})
    assert answer.status_code == 200
    form = answer.context["form"]
    assert "email" in form.errors and "display_name" in form.errors
    assert 'class="error"' in answer.content.decode()


def test_the_sent_page_says_where_a_development_server_puts_its_mail(
    settings: Any, tmp_path: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert (
        "mails are printed on the worker" in Client().get("/accounts/signup/sent").content.decode()
    )
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    assert str(tmp_path / "mail") in Client().get("/accounts/signup/sent").content.decode()
    settings.IS_PRODUCTION = True
    assert "Development server" not in Client().get("/accounts/signup/sent").content.decode()
