"""Web and two workers on separate "hosts" (network namespaces the test creates, own addresses,
own disks), sharing PostgreSQL, Redis and an S3 bucket over a bridge: 50 scans, `kill -9` of one
worker mid-run. Every scan completes, no request to the target is repeated except by the steps
the dead worker had running (counted by the target's own request log), and no step waits more
than 60 s after the kill; a PDF a worker renders downloads from the web host, and deleting the
scan removes its objects. The outside check measured 674 s for 50 scans with a killed worker
(its prefetched tasks stranded ~656 s), and `GET /report.pdf` never returning 200."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from django.utils import timezone

from scans.models import Report, Scan, ScanLog, ScanStep
from scans.services import scan_start
from tests.multihost import Lab
from tests.s3server import artifacts_in_bucket
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("require_redis")]

SCANS = 50


def _finished(pk: int, lab: Lab) -> Scan:
    return wait_for(  # type: ignore[no-any-return]
        lambda: Scan.objects.filter(pk=pk, status__in=["completed", "failed"]).first(),
        timeout_s=180,
        what=f"scan #{pk}\n{lab.log('b')}",
    )


def test_fifty_scans_on_two_worker_hosts_survive_a_killed_worker_and_share_their_files(
    hosts_lab: Lab, settings: Any, user: Any, team: Any, authorize: Any, make_workflow: Any,
    owner_api: Any,
) -> None:  # fmt: skip
    lab = hosts_lab
    artifacts_in_bucket(settings, lab.env)  # the web host's storage: the same bucket
    lab.target.delay_s = 0.5
    workflow = make_workflow(
        [{"id": "web", "type": "http_probe", "config": {"schemes": "http", "timeout_s": 60}}]
    )
    targets = [authorize(lab.target.url(f"scan-{i}")) for i in range(SCANS)]
    started = time.monotonic()
    scans = [
        scan_start(team=team, user=user, workflow=workflow, target_ids=[t.pk], consent=True)
        for t in targets
    ]
    lab.start_worker("a")
    lab.start_worker("b")

    wait_for(
        lambda: Scan.objects.filter(pk__in=[s.pk for s in scans], status="completed").count()
        >= 10,
        timeout_s=120, what="10 scans to complete",
    )  # fmt: skip
    lab.kill("a")  # kill -9 of the whole process group, mid-run
    killed_at = timezone.now()
    done = [_finished(scan.pk, lab) for scan in scans]
    elapsed_s = time.monotonic() - started

    assert [scan.status for scan in done] == ["completed"] * SCANS
    steps = {step.scan_id: step for step in ScanStep.objects.filter(scan__in=scans)}
    hits = Counter(lab.target.hits)
    rerun = [step for step in steps.values() if step.attempt > 1]
    assert len(rerun) <= 2, "only what the killed worker had running runs twice"
    for scan, target in zip(scans, targets, strict=True):
        path = "/" + target.value.split("/", 3)[3]
        assert hits[path] == steps[scan.pk].attempt, (path, hits[path], steps[scan.pk].attempt)
        assert ScanLog.objects.filter(scan=scan, message="web completed").count() == 1
    late = [
        (step.started_at - killed_at).total_seconds()
        for step in steps.values()
        if step.started_at and step.started_at > killed_at
    ]
    assert max(late, default=0) <= 60, sorted(late)[-5:]
    print(f"\n50 scans on two worker hosts, one killed: {elapsed_s:.0f} s; reruns {len(rerun)}")

    # A PDF rendered by the surviving worker (its own disk) downloads from the web host.
    first = scans[0]
    assert owner_api.get(f"/api/v1/scans/{first.pk}/report.pdf").status_code == 202

    def pdf() -> Any:
        answer = owner_api.get(f"/api/v1/scans/{first.pk}/report.pdf")
        return answer if answer.status_code == 200 else None

    answer = wait_for(pdf, timeout_s=120, interval_s=1, what=f"the PDF\n{lab.log('b')}")
    assert b"".join(answer.streaming_content).startswith(b"%PDF-")
    assert Report.objects.filter(scan=first).count() == 1
    assert lab.s3.keys(f"{lab.prefix}/scan-{first.pk}/")

    assert owner_api.delete(f"/api/v1/scans/{first.pk}").status_code == 204
    assert lab.s3.keys(f"{lab.prefix}/scan-{first.pk}/") == []
