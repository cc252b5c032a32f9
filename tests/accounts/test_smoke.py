from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_it_registers_over_the_api_and_the_key_works(
    register_over_api: Callable[[str], str],
) -> None:
    key = register_over_api("ci@example.test")
    assert key.startswith("opk_")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["email"] == "ci@example.test"
    assert me.json()["role"] == "owner"
