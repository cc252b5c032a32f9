"""The injection corpus: values that try to become shell code or tool options are refused, or
stored inert, on every way in (parser, service, API, bulk import, page) and at scope-check time."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Team, User
from targets.items import Item
from targets.models import Target
from targets.parsing import TargetParseError, parse_target
from targets.scope import ScopeMatcher, TargetRow
from targets.services import target_create, targets_bulk_import

CORPUS = [
    "example.com; rm -rf /",
    "example.com;rm",
    "example.com&&id",
    "example.com|id",
    "$(id)",
    "$(id).example.com",
    "`id`",
    "`id`.example.com",
    "${IFS}id",
    "--script=x",
    "-oN /etc/x",
    "-oN",
    "-iL/etc/passwd",
    "127.0.0.1 -p-",
    "127.0.0.1\t-p-",
    "example.com\nrm -rf /",
    "example.com\r\n--data",
    "example.com\x00.evil",
    "\x00",
    "a" * 10_240,
    "example.com" + "a" * 10_240,
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "http://example.com/ -oX /tmp/x",
    "https://user:pass@example.com/",
    "http://example.com:80@evil.test/",
    "https://evil.test\\@example.com/",
    "ext::sh -c id",
    "git@github.com:-oProxyCommand=id/repo.git",
    "ssh://-oProxyCommand=id/repo.git",
    "https://github.com/-org/repo.git",
    "nginx:1.25 --privileged",
    "--privileged",
    "nginx;id",
    "ghcr.io/org/app:$(id)",
    "10.0.0.1/8 -sS",
    "example\u202ecom",
    "example.com\u200b",
    "<script>alert(1)</script>",
    "'; DROP TABLE targets; --",
    "../../etc/passwd",
    "%0a-oN",
]

SHELL_METACHARACTERS = set(";|&$`'\"<>(){}\\!\n\r\t ")


def assert_inert(kind: str, value: str) -> None:
    """What an accepted value may look like: ASCII, printable, no whitespace, never an option,
    and outside URLs no shell metacharacter at all."""
    assert value.isascii() and value.isprintable(), value
    assert not value.startswith("-"), value
    assert not any(c.isspace() for c in value), value
    assert len(value) <= 2048
    if kind == "url":
        assert value.startswith(("http://", "https://")) and "@" not in value.split("/")[2], value
    elif kind == "repo":
        assert value.startswith(("https://", "http://", "ssh://", "git://")), value
        assert not set(value) & SHELL_METACHARACTERS, value
    else:
        assert not set(value) & SHELL_METACHARACTERS, value


@pytest.mark.parametrize("raw", CORPUS, ids=range(len(CORPUS)))
@pytest.mark.parametrize("kind", [None, "domain", "ip", "cidr", "url", "image", "repo"])
def test_the_parser_refuses_or_returns_an_inert_value(raw: str, kind: str | None) -> None:
    try:
        parsed = parse_target(raw, kind)
    except TargetParseError as exc:
        message = str(exc)
        assert "\n" not in message and "\x00" not in message and len(message) < 400
        return
    assert_inert(parsed.kind, parsed.value)


@pytest.mark.parametrize(
    "raw",
    [
        "$(id)",
        "`id`",
        "--script=x",
        "-oN /etc/x",
        "127.0.0.1 -p-",
        "a\nb",
        "a\x00b",
        "x" * 10_240,
        "file:///etc/passwd",
        "javascript:alert(1)",
    ],
)
@pytest.mark.smoke
def test_the_corpus_named_in_the_issue_is_refused_outright(raw: str) -> None:
    with pytest.raises(TargetParseError):
        parse_target(raw)


def test_shell_text_inside_a_url_path_is_stored_percent_encoded_or_as_plain_data() -> None:
    parsed = parse_target("https://example.com/`id`/$(id)/<x>")
    assert parsed.value == "https://example.com/%60id%60/$(id)/%3Cx%3E"
    assert_inert("url", parsed.value)


@pytest.mark.django_db
def test_no_corpus_value_reaches_the_database_except_inert(team: Team, user: User) -> None:
    for raw in CORPUS:
        try:
            target_create(team=team, user=user, value=raw)
        except Exception as exc:
            assert type(exc).__name__ == "ValidationError", (raw, exc)
    for target in Target.objects.filter(team=team):
        assert_inert(target.kind, target.value)
        for item in target.scan_items():
            assert not item.value.startswith("-")


@pytest.mark.django_db
def test_the_api_answers_400_never_500_to_the_corpus(owner_api: APIClient, team: Team) -> None:
    for raw in CORPUS:
        answer = owner_api.post("/api/v1/targets", {"value": raw}, format="json")
        assert answer.status_code in (201, 400), (raw, answer.status_code, answer.content[:200])
        note = owner_api.post("/api/v1/targets", {"value": "note.test", "note": raw}, format="json")
        assert note.status_code in (201, 400), (raw, note.status_code)
        Target.objects.filter(team=team, value="note.test").delete()
    for target in Target.objects.filter(team=team):
        assert_inert(target.kind, target.value)


@pytest.mark.django_db
def test_bulk_import_reports_each_corpus_line_and_imports_only_inert_values(
    team: Team, user: User
) -> None:
    rows = [{"value": raw} for raw in CORPUS]
    report = targets_bulk_import(team=team, user=user, rows=rows, mode="valid_only", commit=True)
    assert report.counts["total"] == len(CORPUS)
    for line in report.lines:
        assert "\n" not in line.input and "\x00" not in line.input and len(line.input) < 200
    for target in Target.objects.filter(team=team):
        assert_inert(target.kind, target.value)


@pytest.mark.django_db
def test_a_pasted_corpus_is_split_by_lines_and_reported_per_line(team: Team, user: User) -> None:
    text = "\n".join(raw for raw in CORPUS if "\n" not in raw and "\r" not in raw)
    report = targets_bulk_import(team=team, user=user, text=text, commit=False)
    assert report.counts["added"] <= 2  # at most the inert URL forms
    assert all(line.status == "error" for line in report.lines if line.kind not in ("url",))


@pytest.mark.django_db
def test_the_page_shows_the_error_escaped(owner_client: Client) -> None:
    answer = owner_client.post(
        "/targets/add", {"value": "<script>alert(1)</script>"}, HTTP_HX_REQUEST="true"
    )
    assert b"<script>alert(1)</script>" not in answer.content
    assert b"&lt;script&gt;" in answer.content


def test_corpus_items_are_never_in_scope_even_under_the_broadest_scope() -> None:
    scope = ScopeMatcher([
        TargetRow(1, "domain", "*.example.com"), TargetRow(2, "domain", "example.com"),
        TargetRow(3, "cidr", "0.0.0.0/0"), TargetRow(4, "cidr", "::/0"), TargetRow(5, "image", "docker.io/*"),
    ])  # fmt: skip
    for raw in CORPUS:
        for kind in ("host", "service", "url", "image", "repo"):
            verdict = scope.check(Item(kind, raw))
            if verdict.in_scope:
                assert kind == "url" and raw.startswith("http"), (kind, raw)
