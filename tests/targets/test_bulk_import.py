"""Bulk import: text and CSV in, a per-line report out, all-or-nothing or valid lines only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent, Team, User
from targets.bulk import BulkTooLarge, parse_expiry, rows_from_csv, rows_from_text
from targets.models import Target
from targets.services import target_create, targets_bulk_import

pytestmark = pytest.mark.django_db


@pytest.mark.smoke
def test_text_lines_carry_comments_notes_and_exclusions() -> None:
    rows = rows_from_text("# header\n\nexample.com   # SOW-1\n  !admin.example.com\r\n10.0.0.0/8\n")
    assert [(r.line, r.value, r.note, r.excluded) for r in rows] == [
        (3, "example.com", "SOW-1", False),
        (4, "admin.example.com", "", True),
        (5, "10.0.0.0/8", "", False),
    ]


def test_csv_is_read_with_or_without_its_header() -> None:
    with_header = rows_from_csv(
        "value,kind,note,expires_at,excluded\nnginx,image,prod,2030-01-31,\nadmin.test,,,,yes\n"
    )
    assert [(r.line, r.value, r.kind, r.note, r.excluded) for r in with_header] == [
        (2, "nginx", "image", "prod", False),
        (3, "admin.test", None, "", True),
    ]
    assert with_header[0].expires_at == datetime(2030, 2, 1, tzinfo=UTC)
    bare = rows_from_csv('a.test,domain,"note, with comma",2030-01-01T12:00:00+02:00\n')
    assert bare[0].note == "note, with comma" and bare[0].expires_at == datetime(
        2030, 1, 1, 10, tzinfo=UTC
    )
    reordered = rows_from_csv("note,value\nhello,b.test\n")
    assert (reordered[0].value, reordered[0].note) == ("b.test", "hello")
    assert "unknown CSV column `colour`" in rows_from_csv("value,colour\na,b\n")[0].error
    assert "more columns" in rows_from_csv("a.test,domain,n,2030-01-01,no,extra\n")[0].error
    assert "excluded must be true or false" in rows_from_csv("a.test,,,,perhaps\n")[0].error
    assert rows_from_text("value,kind\nc.test,domain\n")[0].kind == "domain"  # pasted CSV


def test_expiry_is_a_date_through_that_day_or_an_iso_time() -> None:
    assert parse_expiry("2030-06-01") == datetime(2030, 6, 2, tzinfo=UTC)
    assert parse_expiry("2030-06-01T08:30:00Z") == datetime(2030, 6, 1, 8, 30, tzinfo=UTC)
    assert parse_expiry("2030-06-01 08:30") == datetime(2030, 6, 1, 8, 30, tzinfo=UTC)
    assert parse_expiry("") is None
    with pytest.raises(ValueError, match="not a date"):
        parse_expiry("next tuesday")
    with pytest.raises(ValueError, match="not a date"):
        parse_expiry("2030-13-45")


def test_the_preview_reports_every_line_and_writes_nothing(team: Team, user: User) -> None:
    existing = target_create(team=team, user=user, value="example.com")
    text = "example.com\nEXAMPLE.com.\nwww.example.com\nwww.example.com\n-oN\nnginx\n"
    report = targets_bulk_import(team=team, user=user, text=text, commit=False)
    assert report.committed is False and report.message.startswith("Preview:")
    assert [(ln.line, ln.status, ln.reason) for ln in report.lines] == [
        (1, "duplicate", f"already in scope as target #{existing.pk}"),
        (2, "duplicate", f"already in scope as target #{existing.pk}"),
        (3, "added", ""),
        (4, "duplicate", "same as line 3"),
        (
            5,
            "error",
            "`-oN`: starts with '-': a target never does (a tool would read it as an option)",
        ),
        (6, "error", "`nginx`: cannot tell whether this is a domain or an image; choose the kind"),
    ]
    assert Target.objects.filter(team=team).count() == 1
    assert not AuditEvent.objects.filter(action="target.bulk_imported").exists()


def test_all_or_nothing_imports_nothing_when_a_line_is_wrong(team: Team, user: User) -> None:
    report = targets_bulk_import(
        team=team, user=user, text="a.test\n10.0.0.0/33\nb.test\n", commit=True
    )
    assert report.committed is False
    assert "Nothing imported: 1 lines have errors" in report.message
    assert not Target.objects.filter(team=team).exists()


def test_valid_only_imports_the_valid_lines_and_records_who_authorized_them(
    team: Team, user: User
) -> None:
    report = targets_bulk_import(
        team=team,
        user=user,
        text="a.test\n10.0.0.0/33\n!b.test  # not prod\n",
        mode="valid_only",
        commit=True,
    )
    assert report.committed is True and report.counts == {
        "added": 2,
        "duplicate": 0,
        "error": 1,
        "total": 3,
    }
    a, b = (
        Target.objects.get(team=team, value="a.test"),
        Target.objects.get(team=team, value="b.test"),
    )
    assert a.authorized_by == user and not a.excluded
    assert b.excluded and b.note == "not prod"
    assert [ln.target_id for ln in report.lines] == [a.pk, None, b.pk]
    event = AuditEvent.objects.get(action="target.bulk_imported")
    assert event.team == team and event.detail["added"] == 2 and event.detail["errors"] == 1


def test_repositories_are_duplicates_across_transports(team: Team, user: User) -> None:
    target_create(team=team, user=user, value="https://github.com/org/repo.git")
    report = targets_bulk_import(
        team=team,
        user=user,
        text="git@github.com:org/repo.git\ngit@github.com:org/other.git\nhttps://github.com/org/other.git\n",
        commit=True,
    )
    assert [ln.status for ln in report.lines] == ["duplicate", "added", "duplicate"]


def test_expiry_problems_are_line_errors(team: Team, user: User) -> None:
    rows: list[dict[str, Any]] = [
        {"value": "a.test", "expires_at": "2001-01-01"},
        {"value": "b.test", "expires_at": "2099-01-01", "excluded": True},
        {"value": "c.test", "expires_at": "soon"},
        {"value": "d.test", "note": "bell\x07"},
    ]
    report = targets_bulk_import(team=team, user=user, rows=rows, commit=False)
    reasons = [ln.reason for ln in report.lines]
    assert "is in the past" in reasons[0]
    assert "an exclusion cannot expire" in reasons[1]
    assert "is not a date" in reasons[2]
    assert "note contains a control character (U+0007)" in reasons[3]


def test_more_than_ten_thousand_lines_are_refused_before_any_work(team: Team, user: User) -> None:
    text = "\n".join(f"h{n}.test" for n in range(10_001))
    with pytest.raises(BulkTooLarge, match="at most 10,000"):
        targets_bulk_import(team=team, user=user, text=text, commit=False)
    comments = "\n".join(["# comment"] * 20_000 + ["a.test"])
    assert (
        targets_bulk_import(team=team, user=user, text=comments, commit=False).counts["total"] == 1
    )


def test_ten_thousand_lines_take_two_selects_and_multi_row_inserts(team: Team, user: User) -> None:
    target_create(team=team, user=user, value="h5.test")
    text = "\n".join(f"h{n}.test" for n in range(10_000))
    with CaptureQueriesContext(connection) as queries:
        report = targets_bulk_import(team=team, user=user, text=text, commit=True)
    on_targets = [q["sql"] for q in queries.captured_queries if "targets_target" in q["sql"]]
    selects = [sql for sql in on_targets if sql.startswith("SELECT")]
    inserts = [sql for sql in on_targets if sql.startswith("INSERT")]
    # The existing values once, their ids read back once; the rows by COPY on PostgreSQL (which
    # the capture does not list), else multi-row INSERTs (90 rows each on SQLite).
    assert len(selects) == 2 and len(selects) + len(inserts) == len(on_targets)
    if connection.vendor == "postgresql":
        assert not inserts
    else:
        assert 10 <= len(inserts) <= 112
    assert report.counts == {"added": 9_999, "duplicate": 1, "error": 0, "total": 10_000}
    assert Target.objects.filter(team=team).count() == 10_000
    assert all(line.target_id for line in report.lines)
    assert Target.objects.get(pk=report.lines[7].target_id or 0).value == "h7.test"


def test_an_import_never_touches_another_teams_targets(
    team: Team, user: User, other_team: Team, other_user: User
) -> None:
    target_create(team=other_team, user=other_user, value="shared.test")
    report = targets_bulk_import(team=team, user=user, text="shared.test\n", commit=True)
    assert report.lines[0].status == "added"
    assert Target.objects.filter(value="shared.test").count() == 2


def test_mode_and_sources_are_checked(team: Team, user: User) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="mode must be one of"):
        targets_bulk_import(team=team, user=user, text="a.test", mode="some", commit=False)
    with pytest.raises(ValidationError, match="Give one of"):
        targets_bulk_import(team=team, user=user, text="a.test", rows=[], commit=False)
