"""Operators: every model registered in the Django admin lists and opens its add/search pages
without an error (an empty database is enough to catch a bad list_display or filter)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from accounts.models import Team, User

pytestmark = [pytest.mark.django_db]


def test_every_admin_changelist_answers() -> None:
    operator = User.objects.create_superuser("ops@example.test", "a-long-passphrase-42")
    client = Client()
    client.force_login(operator)
    assert client.get("/admin/").status_code == 200
    for model in admin.site._registry:
        meta = model._meta
        url = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert client.get(url).status_code == 200, url
        assert client.get(url, {"q": "x"}).status_code == 200, url


def test_revoking_a_key_in_the_admin_records_the_staff_member_not_the_holder(
    user: User, team: object, issue_key: object
) -> None:
    from accounts.models import AuditEvent

    issued = issue_key(user, team)  # type: ignore[operator]
    operator = User.objects.create_superuser("ops@example.test", "a-long-passphrase-42")
    client = Client()
    client.force_login(operator)

    answer = client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke", "_selected_action": [issued.api_key.pk]},
    )

    assert answer.status_code == 302
    issued.api_key.refresh_from_db()
    assert issued.api_key.revoked_at is not None
    event = AuditEvent.objects.get(action="api_key.revoked")
    assert event.user_id == operator.pk
    assert event.detail["holder_id"] == user.pk and event.detail["via"] == "admin"


@pytest.mark.parametrize("model", ["scan", "scanstep", "scanlog", "finding", "asset", "artifact"])
def test_records_of_scans_cannot_be_added_or_edited_in_the_admin_only_viewed_and_deleted(
    model: str, user: User, team: Team
) -> None:
    from tests.scans.findings.factories import completed_scan, realistic_findings

    scan = completed_scan(team=team, user=user, findings=realistic_findings(2))
    operator = User.objects.create_superuser("ops@example.test", "a-long-passphrase-42")
    client = Client()
    client.force_login(operator)
    changelist = client.get(f"/admin/scans/{model}/")
    assert changelist.status_code == 200
    assert f'href="/admin/scans/{model}/add/"' not in changelist.content.decode()
    assert client.get(f"/admin/scans/{model}/add/").status_code == 403
    if model in ("scan", "finding"):
        pk = scan.pk if model == "scan" else scan.findings.first().pk  # type: ignore[union-attr]
        page = client.get(f"/admin/scans/{model}/{pk}/change/")
        assert page.status_code == 200  # viewable
        body = page.content.decode()
        assert 'name="_save"' not in body and "authorize" not in body.lower()
        refused = client.post(f"/admin/scans/{model}/{pk}/change/", {"title": "made up"})
        assert refused.status_code == 403
        assert client.get(f"/admin/scans/{model}/{pk}/delete/").status_code == 200
    # A staff member who is not a superuser cannot delete.
    staff = User.objects.create_user("staff@example.test", "a-long-passphrase-43")
    staff.is_staff = True
    staff.save()
    from django.contrib.auth.models import Permission

    staff.user_permissions.set(Permission.objects.filter(content_type__model=model))
    client.force_login(staff)
    if model == "scan":
        assert client.get(f"/admin/scans/scan/{scan.pk}/delete/").status_code == 403
