"""Notices about findings: an expired risk acceptance reopens the finding (the scheduled job, with
the clock moved past the expiry by the `clock` fixture, not by sleeping) and tells the team's
"accepted risk expired" integrations (a local webhook receiver here) and, by e-mail, the people
who accepted it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from scans.engine.runtime import FindingData
from scans.findings.acceptance import acceptances_expire
from scans.models import Finding, FindingEvent
from scans.tasks import acceptances_expire as acceptances_expire_task
from tests.scans.findings.factories import completed_scan

pytestmark = pytest.mark.django_db


def _in(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def make_scan(team: Any, user: Any) -> Any:
    return completed_scan(
        team=team, user=user,
        findings=[
            FindingData(tool="nuclei", severity=s, title=f"{s} issue", rule_id=f"rule-{s}",
                        location=f"https://app.test/{s}")
            for s in ("high", "low")
        ],
    )  # fmt: skip


def test_the_expiry_job_reopens_expired_acceptances_and_tells_the_team(
    user: Any, owner_api: Any, team: Any, clock: Any, sync_tasks: None,
    make_integration: Callable[..., Any], receiver: Any, mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    from integrations.services import rule_create

    webhook = make_integration("webhook", receiver.url("/siem"))
    rule_create(team=team, user=None, event="acceptance_expired", integration_id=webhook.pk)
    scan = make_scan(team, user)
    ids = list(scan.findings.values_list("pk", flat=True))
    owner_api.post(
        "/api/v1/findings/triage",
        {"ids": ids, "status": "accepted", "comment": "pentest window", "accepted_until": _in(10)},
        format="json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert acceptances_expire() == 0  # not yet
    clock.advance(days=11)
    with django_capture_on_commit_callbacks(execute=True):
        assert acceptances_expire_task() == "2 reopened"
    assert set(Finding.objects.filter(scan=scan).values_list("status", flat=True)) == {"open"}
    assert FindingEvent.objects.filter(kind="expired").count() == 2
    body = receiver.wait_for("/siem")[0].json()
    assert body["event"] == "acceptance_expired" and body["findings_total"] == 2
    assert "expired" in body["title"]
    mailed = [m for m in mailoutbox if "expired" in m.subject]
    assert mailed and "analyst@example.test" in mailed[0].to
    with django_capture_on_commit_callbacks(execute=True):
        assert acceptances_expire() == 0  # once
