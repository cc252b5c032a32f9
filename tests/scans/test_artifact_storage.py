"""Artifacts in shared storage: with `ARTIFACTS_STORAGE=s3` (a real SeaweedFS on 127.0.0.1) a PDF
a worker rendered downloads from the web process although no local file exists, imported reports
and raw outputs are objects in the bucket, and deleting a scan or expiring its artifacts removes
them there. The outside check saw `GET /report.pdf` never return 200 with web and worker on
separate hosts (each poll queued another render: 20 polls, 20 PDFs)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from config.artifacts import artifact_exists, artifact_keep, artifacts_are_local
from scans.findings.storage import artifacts_expire
from scans.models import Artifact, Report, Scan
from scans.reports.pdf import report_render
from tests.scans.findings.factories import completed_scan, realistic_findings
from tests.scans.tools.conftest import sample

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scratch(settings: Any, tmp_path: Path) -> Path:
    """The worker's local work folder, of this test's own."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR.mkdir()
    return Path(settings.ARTIFACTS_DIR)


def test_a_pdf_rendered_by_a_worker_downloads_from_the_web_without_a_shared_disk(
    s3_artifacts: Any, scratch: Path, owner_api: Any, client: Any, user: Any, team: Any
) -> None:
    server, prefix = s3_artifacts
    scan = completed_scan(team=team, user=user, findings=realistic_findings(30))
    first = owner_api.get(f"/api/v1/scans/{scan.pk}/report.pdf")
    assert first.status_code == 202
    report = Report.objects.get(scan=scan)

    assert report_render(report.pk).endswith("pages")  # the worker's task body
    # The worker's disk is not the web's: nothing of it is left for the web to read.
    shutil.rmtree(scratch)
    scratch.mkdir()

    for _ in range(3):  # polls after the render
        answer = owner_api.get(f"/api/v1/scans/{scan.pk}/report.pdf")
        assert answer.status_code == 200
        assert b"".join(answer.streaming_content).startswith(b"%PDF-")
    assert Report.objects.filter(scan=scan).count() == 1  # no render per poll
    report.refresh_from_db()
    assert server.keys(f"{prefix}/scan-{scan.pk}/") == [f"{prefix}/{report.path}"]
    client.force_login(user)
    page = client.get(f"/scans/{scan.pk}/report.pdf")  # the scan page's download link
    assert page.status_code == 200
    assert b"".join(page.streaming_content).startswith(b"%PDF-")


def test_an_imported_report_is_an_object_in_the_bucket_and_a_scan_delete_removes_it(
    s3_artifacts: Any, scratch: Path, owner_api: Any
) -> None:
    server, prefix = s3_artifacts
    raw = sample("trivy/scheme_2_many_vulns.json")
    answer = owner_api.post(
        "/api/v1/scans/import",
        {"tool": "trivy", "file": SimpleUploadedFile("trivy.json", raw)},
        format="multipart",
    )
    assert answer.status_code == 201, answer.json()
    scan = Scan.objects.get(pk=answer.json()["scan_id"])
    artifact = Artifact.objects.get(scan=scan)
    assert server.keys(f"{prefix}/scan-{scan.pk}/") == [f"{prefix}/{artifact.path}"]
    assert not list(scratch.rglob("trivy.json"))  # uploaded, the local copy removed
    with artifact.open() as handle:
        assert handle.read() == raw

    assert owner_api.delete(f"/api/v1/scans/{scan.pk}").status_code == 204

    assert server.keys(f"{prefix}/scan-{scan.pk}/") == []


def test_expired_artifacts_are_deleted_from_the_bucket(
    s3_artifacts: Any, scratch: Path, user: Any, team: Any
) -> None:
    server, prefix = s3_artifacts
    scan = completed_scan(team=team, user=user, findings=[])
    kept = []
    for name in ("old.stdout", "new.stdout"):
        path = scratch / f"scan-{scan.pk}" / "step-attempt1" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"output " * 100)
        kept.append(Artifact.objects.create(scan=scan, name=name, path=artifact_keep(path)))
    Artifact.objects.filter(pk=kept[0].pk).update(expires_at=timezone.now() - timedelta(hours=1))
    Artifact.objects.filter(pk=kept[1].pk).update(expires_at=timezone.now() + timedelta(days=1))

    assert artifacts_expire() == 1

    assert server.keys(f"{prefix}/scan-{scan.pk}/") == [f"{prefix}/{kept[1].path}"]
    assert list(Artifact.objects.filter(scan=scan).values_list("name", flat=True)) == ["new.stdout"]
    assert not artifact_exists(kept[0].path) and artifact_exists(kept[1].path)


def test_the_local_folder_is_the_default_and_keeps_files_where_they_were_written(
    scratch: Path, user: Any, team: Any
) -> None:
    assert artifacts_are_local()
    scan = completed_scan(team=team, user=user, findings=[])
    path = scratch / f"scan-{scan.pk}" / "web-attempt1" / "run-1.stdout"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"hello")
    name = artifact_keep(path)
    assert name == f"scan-{scan.pk}/web-attempt1/run-1.stdout"
    assert path.read_bytes() == b"hello"
    Artifact.objects.create(scan=scan, name="run-1.stdout", path=name,
                            expires_at=timezone.now() - timedelta(seconds=1))  # fmt: skip
    assert artifacts_expire() == 1
    assert not path.exists()
