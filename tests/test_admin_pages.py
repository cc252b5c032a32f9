"""Operators: every model registered in the Django admin lists and opens its add/search pages
without an error (an empty database is enough to catch a bad list_display or filter)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from accounts.models import User

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
