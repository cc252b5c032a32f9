"""Fixtures for findings, triage, exports, reports and the dashboard: completed scans recorded
through the engine's recording path (scans.findings.storage.findings_store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Team, User
from scans.engine.runtime import FindingData
from scans.models import Scan
from tests.scans.findings.factories import completed_scan, realistic_findings


@pytest.fixture
def make_scan(user: User, team: Team) -> Callable[..., Scan]:
    def factory(findings: list[FindingData] | int = 20, **kwargs: Any) -> Scan:
        data = realistic_findings(findings) if isinstance(findings, int) else findings
        return completed_scan(team=kwargs.pop("team", team), user=user, findings=data, **kwargs)

    return factory
