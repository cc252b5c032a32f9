"""The scan page's live part (issue #20): a failed scan shows a failed (full, red) bar, and the
live answer re-sends the buttons so Cancel goes when the scan ends."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from scans.models import Scan

pytestmark = pytest.mark.django_db


def test_a_failed_scan_has_a_failed_bar_and_its_live_answer_drops_cancel(
    user: Any, team: Any
) -> None:
    scan = Scan.objects.create(
        team=team, workflow_name="Nightly", status="failed", steps_total=3, steps_done=1,
        error="port-scan failed",
    )  # fmt: skip
    client = Client()
    client.force_login(user)
    live = client.get(f"/scans/{scan.pk}/live", HTTP_HX_REQUEST="true").content.decode()
    assert 'class="progress progress-failed"' in live
    assert '<progress max="100" value="100"' in live and "1/3 steps · failed" in live
    assert 'id="scan-actions" hx-swap-oob="true"' in live
    assert "Cancel scan" not in live
    running = Scan.objects.create(team=team, workflow_name="Now", status="running", steps_total=2)
    live = client.get(f"/scans/{running.pk}/live", HTTP_HX_REQUEST="true").content.decode()
    assert "Cancel scan" in live and "progress-running" in live
