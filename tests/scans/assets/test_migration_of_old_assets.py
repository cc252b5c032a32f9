"""Today's inventory rows (kinds host, service, url) become the new model's: hosts are domains or
IPs, services and URLs get their port, status code and parent (created when only a child named
it). Runs the real migrations backwards and forwards on the test database."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("scans", "0004_finding_rows_cheaper_to_store")]
AFTER = [("scans", "0011_assets_from_host_service_url")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_host_service_and_url_rows_are_migrated(team: Any) -> None:
    apps = _migrate(BEFORE)
    try:
        Old = apps.get_model("scans", "Asset")
        now = timezone.now()
        for kind, value, attrs in [
            ("host", "Lab.Example.com", {}),
            ("host", "10.0.0.5", {}),
            ("service", "10.0.0.5:22/tcp", {"product": "OpenSSH"}),
            ("url", "https://app.example.com:8443/login", {"status": 200, "title": "Login"}),
        ]:
            Old.objects.create(team_id=team.pk, kind=kind, value=value, attrs=attrs,
                               first_seen_at=now, last_seen_at=now)  # fmt: skip
    finally:
        apps = _migrate(AFTER)
    Asset = apps.get_model("scans", "Asset")
    rows = {(a.kind, a.value): a for a in Asset.objects.filter(team_id=team.pk)}
    assert set(rows) == {
        ("domain", "Lab.Example.com"),  # a name keeps its value (it was stored canonical)
        ("ip", "10.0.0.5"),
        ("service", "10.0.0.5:22/tcp"),
        ("url", "https://app.example.com:8443/login"),
        ("domain", "app.example.com"),  # implied by the URL
        ("service", "app.example.com:8443/tcp"),
    }
    ssh = rows[("service", "10.0.0.5:22/tcp")]
    assert (ssh.port, ssh.parent_id, ssh.attrs) == (
        22,
        rows[("ip", "10.0.0.5")].pk,
        {"product": "OpenSSH"},
    )
    login = rows[("url", "https://app.example.com:8443/login")]
    assert (login.port, login.status_code) == (8443, 200)
    assert login.parent_id == rows[("service", "app.example.com:8443/tcp")].pk
    assert (
        rows[("service", "app.example.com:8443/tcp")].parent_id
        == rows[("domain", "app.example.com")].pk
    )
    _migrate([("scans", executor_leaf())])


def executor_leaf() -> str:
    executor = MigrationExecutor(connection)
    return max(name for app, name in executor.loader.graph.leaf_nodes() if app == "scans")
