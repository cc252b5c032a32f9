"""Scans for inventory tests: made the way the engine and imports make them, so that what the
inventory records comes through its one recording service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Team, User
from scans.models import Scan, ScanStatus


@pytest.fixture
def make_scan(team: Team, user: User) -> Callable[..., Scan]:
    """A running scan of one workflow and target set (same `key` = same scope: comparable)."""

    def factory(key: str = "scope-a", name: str = "recon", **fields: Any) -> Scan:
        now = timezone.now()
        return Scan.objects.create(
            team=team, workflow_name=name, targets_key=key, status=ScanStatus.RUNNING,
            requested_by=user, started_at=now, source=Scan.Source.IMPORT, **fields,
        )  # fmt: skip

    return factory


def finish(scan: Scan) -> Scan:
    """Complete the scan as the engine does (the inventory concludes it)."""
    from scans.assets.recording import scan_assets_conclude

    Scan.objects.filter(pk=scan.pk).update(status=ScanStatus.COMPLETED, finished_at=timezone.now())
    scan.refresh_from_db()
    scan_assets_conclude(scan)
    return scan


# Real servers for the inventory's end-to-end scans (shared with the built-in tool tests and the
# integration tests: a local webhook receiver).
from tests.integrations.conftest import make_integration, receiver  # noqa: E402, F401
from tests.scans.builtin.conftest import web_server  # noqa: E402, F401
