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
