"""The target pages: list, search and kind filter, pagination, inline add, delete, edit, import."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, Team, User
from targets.models import Target
from targets.services import target_create

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.mark.smoke
def test_the_list_shows_targets_with_exclusion_and_expiry_badges(
    owner_client: Client, team: Team, user: User
) -> None:
    target_create(team=team, user=user, value="example.com")
    target_create(team=team, user=user, value="admin.example.com", excluded=True)
    target_create(
        team=team,
        user=user,
        value="soon.example.com",
        expires_at=timezone.now() + timedelta(days=3),
    )
    target_create(
        team=team,
        user=user,
        value="later.example.com",
        expires_at=timezone.now() + timedelta(days=30),
    )
    expired = target_create(
        team=team, user=user, value="old.example.com", expires_at=timezone.now() + timedelta(days=1)
    )
    Target.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    page = owner_client.get("/targets/")
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        'class="target-row state-excluded"' in html
        and '<span class="badge danger">excluded</span>' in html
    )
    assert html.count('<span class="badge warn">expires soon</span>') == 1
    assert html.count('<span class="badge muted">expired</span>') == 1
    assert html.count('<span class="badge ok">in scope</span>') == 2
    assert 'id="add-target"' in html and "Bulk import" in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), (
        "element ids must be unique (the filter and the add form both have a kind)"
    )
    assert 'href="/targets/"' in html  # the nav link


def test_search_and_kind_filter_answer_htmx_with_the_list_fragment(
    owner_client: Client, team: Team, user: User
) -> None:
    target_create(team=team, user=user, value="shop.example.com", note="SOW-17")
    target_create(team=team, user=user, value="10.0.0.0/8")
    fragment = owner_client.get("/targets/?q=sow-17", headers=HTMX)
    html = fragment.content.decode()
    assert "<html" not in html and "shop.example.com" in html and "10.0.0.0/8" not in html
    by_kind = owner_client.get("/targets/?kind=cidr", headers=HTMX).content.decode()
    assert "10.0.0.0/8" in by_kind and "shop.example.com" not in by_kind
    assert (
        "No target matches."
        in owner_client.get("/targets/?q=nothing", headers=HTMX).content.decode()
    )
    full = owner_client.get("/targets/?kind=cidr").content.decode()
    assert "<html" in full and '<option value="cidr" selected>' in full


def test_the_list_pages_by_fifty(owner_client: Client, team: Team, user: User) -> None:
    for n in range(120):
        target_create(team=team, user=user, value=f"h{n:03d}.example.com")
    first = owner_client.get("/targets/").content.decode()
    assert first.count('class="target-row') == 50 and "page 1 of 3" in first
    third = owner_client.get("/targets/?page=3", headers=HTMX).content.decode()
    assert third.count('class="target-row') == 20 and "h119.example.com" in third
    assert 'hx-get="/targets/?page=2"' in third
    assert owner_client.get("/targets/?page=99").status_code == 200


def test_adding_inline_returns_a_fresh_form_and_tells_the_list_to_refresh(
    owner_client: Client, team: Team, user: User
) -> None:
    answer = owner_client.post(
        "/targets/add", {"value": "*.Example.com", "note": "SOW-1"}, headers=HTMX
    )
    assert answer.status_code == 200
    assert answer["HX-Trigger"] == "targets-changed"
    assert "Added <code>*.example.com</code>" in answer.content.decode()
    target = Target.objects.get(team=team)
    assert (target.kind, target.value, target.note, target.authorized_by) == (
        "domain",
        "*.example.com",
        "SOW-1",
        user,
    )
    assert AuditEvent.objects.filter(action="target.created", team=team).exists()


def test_errors_show_next_to_their_field(owner_client: Client, team: Team, user: User) -> None:
    answer = owner_client.post("/targets/add", {"value": "10.0.0.0/33"}, headers=HTMX)
    assert answer.status_code == 200 and "HX-Trigger" not in answer
    html = answer.content.decode()
    assert '<div class="field has-error">' in html
    assert "`10.0.0.0/33`: prefix length must be 0\u201332" in html
    existing = target_create(team=team, user=user, value="example.com")
    duplicate = owner_client.post(
        "/targets/add", {"value": "example.com"}, headers=HTMX
    ).content.decode()
    assert f"as target #{existing.pk}" in duplicate
    expiring_exclusion = owner_client.post(
        "/targets/add",
        {"value": "x.test", "excluded": "on", "expires_at": "2099-01-01T10:00"},
        headers=HTMX,
    ).content.decode()
    assert "an exclusion cannot expire" in expiring_exclusion
    plain = owner_client.post("/targets/add", {"value": ""})
    assert plain.status_code == 400 and "This field is required." in plain.content.decode()


def test_adding_without_htmx_redirects_to_the_list(owner_client: Client, team: Team) -> None:
    answer = owner_client.post(
        "/targets/add", {"value": "10.1.0.0/16", "kind": "cidr", "expires_at": "2099-01-01T10:00"}
    )
    assert answer.status_code == 302 and answer["Location"] == "/targets/"
    assert Target.objects.get(team=team).expires_at is not None


def test_delete_removes_the_target_and_returns_the_list(
    owner_client: Client, team: Team, user: User
) -> None:
    keep = target_create(team=team, user=user, value="keep.example.com")
    drop = target_create(team=team, user=user, value="drop.example.com")
    page = owner_client.get("/targets/").content.decode()
    assert 'hx-confirm="Remove drop.example.com from the scope?' in page
    answer = owner_client.post(
        f"/targets/{drop.pk}/delete", {"q": "example", "page": "1"}, headers=HTMX
    )
    html = answer.content.decode()
    assert (
        answer.status_code == 200 and "keep.example.com" in html and "drop.example.com" not in html
    )
    assert list(Target.objects.filter(team=team)) == [keep]
    assert AuditEvent.objects.get(action="target.deleted").detail["value"] == "drop.example.com"


def test_edit_changes_a_target_and_records_the_editor(
    owner_client: Client, team: Team, user: User
) -> None:
    target = target_create(team=team, user=user, value="example.com")
    form = owner_client.get(f"/targets/{target.pk}/edit")
    assert form.status_code == 200 and 'value="example.com"' in form.content.decode()
    answer = owner_client.post(
        f"/targets/{target.pk}/edit",
        {"value": "www.example.com", "kind": "domain", "note": "moved"},
    )
    assert answer.status_code == 302
    target.refresh_from_db()
    assert (target.value, target.note) == ("www.example.com", "moved")
    bad = owner_client.post(f"/targets/{target.pk}/edit", {"value": "10.0.0.1", "kind": "domain"})
    assert bad.status_code == 400
    assert "`10.0.0.1`: the last label is all digits" in bad.content.decode()
    target.refresh_from_db()
    assert target.value == "www.example.com"
    event = AuditEvent.objects.get(action="target.updated")
    assert event.detail["changes"]["value"] == ["example.com", "www.example.com"]


def test_editing_only_the_note_keeps_the_authorization_and_its_expiry(
    owner_client: Client, team: Team, user: User, make_member: Callable[..., User]
) -> None:
    until = timezone.now() + timedelta(days=10, seconds=17)
    target = target_create(team=team, user=user, value="10.20.0.0/16", expires_at=until)
    authorized_at = target.authorized_at
    editor = make_member(team, "analyst", "editor@example.test")
    client = Client()
    client.force_login(editor)
    client.post("/accounts/teams/switch", {"team_id": team.pk})
    form = client.get(f"/targets/{target.pk}/edit").content.decode()
    shown = re.search(r'name="expires_at" value="([^"]+)"', form)
    assert shown is not None
    answer = client.post(
        f"/targets/{target.pk}/edit",
        {"value": "10.20.0.0/16", "kind": "cidr", "expires_at": shown.group(1), "note": "lab"},
    )
    assert answer.status_code == 302
    target.refresh_from_db()
    assert (target.note, target.expires_at, target.authorized_at, target.authorized_by) == (
        "lab",
        until,
        authorized_at,
        user,
    )
    later = (until + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    client.post(
        f"/targets/{target.pk}/edit",
        {"value": "10.20.0.0/16", "kind": "cidr", "expires_at": later, "note": "lab"},
    )
    target.refresh_from_db()
    assert target.authorized_by == editor and target.authorized_at > authorized_at


def test_viewers_see_no_write_controls_and_cannot_write(
    viewer_client: Client, team: Team, user: User
) -> None:
    target = target_create(team=team, user=user, value="example.com")
    html = viewer_client.get("/targets/").content.decode()
    assert "example.com" in html
    assert (
        'id="add-target"' not in html
        and "Bulk import" not in html
        and "Delete" not in html
        and "/edit" not in html
    )
    assert viewer_client.post("/targets/add", {"value": "a.test"}).status_code == 403
    assert viewer_client.post(f"/targets/{target.pk}/delete").status_code == 403
    assert viewer_client.get("/targets/import").status_code == 403
    assert viewer_client.get(f"/targets/{target.pk}/edit").status_code == 403
    assert Target.objects.filter(team=team).count() == 1


def test_another_teams_target_is_a_404_on_the_pages(
    owner_client: Client, other_team: Team, other_user: User
) -> None:
    theirs = target_create(team=other_team, user=other_user, value="their.example")
    assert owner_client.post(f"/targets/{theirs.pk}/delete", headers=HTMX).status_code == 404
    assert owner_client.get(f"/targets/{theirs.pk}/edit").status_code == 404
    assert "their.example" not in owner_client.get("/targets/").content.decode()
    assert Target.objects.filter(pk=theirs.pk).exists()


def test_logged_out_visitors_are_sent_to_login() -> None:
    answer = Client().get("/targets/")
    assert answer.status_code == 302 and "/accounts/login" in answer["Location"]


def test_import_previews_then_imports_pasted_text(
    owner_client: Client, team: Team, user: User
) -> None:
    target_create(team=team, user=user, value="example.com")
    text = "example.com\nwww.example.com  # shop\n10.0.0.0/33\n!admin.example.com\n"
    preview = owner_client.post(
        "/targets/import",
        {"text": text, "mode": "all_or_nothing", "action": "preview"},
        headers=HTMX,
    )
    html = preview.content.decode()
    assert preview.status_code == 200 and "<html" not in html
    assert "Preview: 2 to add, 1 duplicate, 1 with errors. Nothing is saved yet." in html
    assert html.count('<tr class="line-') == 4 and "prefix length must be 0\u201332" in html
    assert "www.example.com  # shop" in html  # the text is kept for the import
    assert Target.objects.filter(team=team).count() == 1
    refused = owner_client.post(
        "/targets/import",
        {"text": text, "mode": "all_or_nothing", "action": "import"},
        headers=HTMX,
    )
    assert "Nothing imported: 1 lines have errors" in refused.content.decode()
    done = owner_client.post(
        "/targets/import", {"text": text, "mode": "valid_only", "action": "import"}, headers=HTMX
    )
    assert "Imported 2 targets" in done.content.decode()
    assert set(Target.objects.filter(team=team).values_list("value", flat=True)) == {
        "example.com",
        "www.example.com",
        "admin.example.com",
    }


def test_import_takes_a_csv_upload_and_carries_it_from_preview_to_import(
    owner_client: Client, team: Team
) -> None:
    upload = SimpleUploadedFile(
        "scope.csv",
        b"\xef\xbb\xbfvalue,kind,note,expires_at\nnginx,image,prod,2099-12-31\n10.0.0.0/24,,lab,\n",
        content_type="text/csv",
    )
    preview = owner_client.post(
        "/targets/import",
        {"csv_file": upload, "mode": "all_or_nothing", "action": "preview"},
        headers=HTMX,
    )
    html = preview.content.decode()
    assert "Preview: 2 to add" in html and "Using <code>scope.csv</code>" in html
    assert 'name="csv_text"' in html and "nginx,image,prod" in html
    imported = owner_client.post(
        "/targets/import",
        {
            "csv_text": "value,kind,note,expires_at\nnginx,image,prod,2099-12-31\n10.0.0.0/24,,lab,\n",
            "csv_name": "scope.csv",
            "mode": "all_or_nothing",
            "action": "import",
        },
        headers=HTMX,
    )
    assert "Imported 2 targets" in imported.content.decode()
    assert Target.objects.get(team=team, kind="image").value == "docker.io/library/nginx"
    not_utf8 = SimpleUploadedFile("x.csv", b"\xff\xfe\x00a", content_type="text/csv")
    assert (
        "must be UTF-8"
        in owner_client.post(
            "/targets/import",
            {"csv_file": not_utf8, "mode": "valid_only", "action": "preview"},
            headers=HTMX,
        ).content.decode()
    )


def test_the_import_page_renders_and_refuses_empty_or_huge_input(owner_client: Client) -> None:
    page = owner_client.get("/targets/import")
    assert page.status_code == 200 and 'name="mode"' in page.content.decode()
    empty = owner_client.post(
        "/targets/import", {"text": "  ", "mode": "valid_only", "action": "preview"}
    )
    assert (
        empty.status_code == 400
        and "Paste some targets or choose a CSV file." in empty.content.decode()
    )
    huge = "\n".join(f"h{n}.test" for n in range(10_001))
    too_many = owner_client.post(
        "/targets/import", {"text": huge, "mode": "valid_only", "action": "preview"}, headers=HTMX
    )
    assert "at most 10,000" in too_many.content.decode()


def test_a_large_preview_lists_only_the_lines_that_need_attention(owner_client: Client) -> None:
    text = "\n".join([*(f"h{n}.test" for n in range(1_000)), "bad host"])
    html = owner_client.post(
        "/targets/import", {"text": text, "mode": "valid_only", "action": "preview"}, headers=HTMX
    ).content.decode()
    assert html.count('<tr class="line-') == 1 and "the other 1000 are fine" in html
