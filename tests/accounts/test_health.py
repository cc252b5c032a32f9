"""`GET /health`: 503 with the reason when no worker has a heartbeat (a test database has none);
the 200 case with a live worker is proven by tests/test_run_smoke.py against `make run`."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_other_clusters(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Redis shared with a running `make run` would show its heartbeat: look under a name
    no cluster uses."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:test-{uuid.uuid4().hex}:cluster")


def test_health_is_503_without_a_worker_heartbeat(no_other_clusters: None) -> None:
    answer = Client().get("/health")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["workers"] == {"ok": False, "clusters": 0, "workers": 0}
    assert answer["Cache-Control"].startswith("max-age=0")


def test_health_needs_no_login_and_only_answers_get(no_other_clusters: None) -> None:
    assert Client().get("/health").status_code in (200, 503)
    assert Client().post("/health").status_code == 405


def test_health_reports_the_broker_kind(no_other_clusters: None, settings: Any) -> None:
    kind = Client().get("/health").json()["checks"]["broker"]["kind"]
    assert kind == ("redis" if settings.REDIS_URL else "orm")
