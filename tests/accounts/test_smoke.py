from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_it_registers_over_the_api_and_the_key_works() -> None:
    client = APIClient()
    answer = client.post("/api/v1/auth/register", {"email": "ci@example.test"}, format="json")
    assert answer.status_code == 201, answer.content
    key = answer.json()["api_key"]["key"]
    assert key.startswith("opk_")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["email"] == "ci@example.test"
    assert me.json()["role"] == "owner"
