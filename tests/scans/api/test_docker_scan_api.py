"""`POST /api/v1/scan/docker {"image": …}` end to end: the API, a real django-q2 worker process and
the real Docker executor run the built-in "Container image audit" workflow on an authorized image.

Trivy itself cannot run on a test machine (it downloads its vulnerability database and the image
from registries none of them reach), so the worker's TOOL_IMAGE_TRIVY is the local stand-in
`outpost-test/trivy-fake:1` (scripts/build-test-images, as in test_trivy_container.py). Only the
binary is a stand-in: the argv the adapter builds (the stand-in refuses any other shape), the
sandboxed container, the output collection and the Trivy parser are the real ones, and the report
it writes is a real Trivy report (trivy/scheme_2_many_vulns.json in the scanner outputs), from
which the expected findings are worked out here independently of the parser.

The worker is a separate process: what it must know (executor, tool image, tool network, no
Grype) reaches it as environment variables through `worker_cluster.env` (tests/workers.py), read
by config/settings.py."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from docker.errors import NotFound

from accounts.models import Role, Team
from scans.models import Finding, Scan, ScanLog
from tests.scans.tools.conftest import build_test_images, sample, trivy_expected
from tests.workers import WorkerCluster, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

IMAGE = "nginx:1.25"
DOCKER_SCAN_URL = "/api/v1/scan/docker"
TERMINAL = {"completed", "failed", "cancelled"}


def _expected_findings() -> tuple[int, Counter[str], set[str]]:
    """What the stand-in's report holds, read from its raw JSON (vulnerabilities only: its ids
    are the vulnerability ids)."""
    raw = sample("trivy/scheme_2_many_vulns.json")
    for result in json.loads(raw)["Results"]:
        assert not result.get("Misconfigurations") and not result.get("Secrets")
    return trivy_expected(raw)


@pytest.fixture
def tool_images() -> dict[str, str]:
    """The local test images (scripts/build-test-images, built once per test process)."""
    return build_test_images()


@pytest.fixture(autouse=True)
def private_artifacts(worker_cluster: WorkerCluster, settings: Any, tmp_path: Path) -> Path:
    """Artifacts in a folder of this test's own, for this process and the worker alike."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR.mkdir(parents=True)
    worker_cluster.env["OUTPOST_ARTIFACTS_DIR"] = str(settings.ARTIFACTS_DIR)
    return Path(settings.ARTIFACTS_DIR)


@pytest.fixture
def cache_prefix(require_docker: Any) -> Iterator[str]:
    """A volume-name prefix of this test's own for the tools' caches; removed afterwards."""
    prefix = f"outpost-test-{uuid.uuid4().hex[:10]}-"
    yield prefix
    for volume in require_docker.volumes.list(filters={"name": prefix}):
        with contextlib.suppress(NotFound):
            volume.remove(force=True)


@pytest.fixture
def image_worker(
    worker_cluster: WorkerCluster,
    tool_images: dict[str, str],
    settings: Any,
    cache_prefix: str,
) -> Callable[..., WorkerCluster]:
    """Starts a worker that runs tools with the Docker executor, Trivy from `trivy_image` (the
    stand-in unless a test says otherwise) without network, and no Grype step. Trivy's cache
    volume is prepared with the local busybox image."""
    # The workflow is built in this process (scan_start_image): Trivy only, as the worker expects.
    settings.GRYPE_ENABLED = False

    def start(trivy_image: str = tool_images["trivy"]) -> WorkerCluster:
        worker_cluster.env.update(
            {
                "SCAN_EXECUTOR": "docker",
                "TOOL_IMAGE_TRIVY": trivy_image,
                "TOOL_NETWORK_TRIVY": "none",
                "GRYPE_ENABLED": "false",
                "TOOL_IMAGE_CACHE_INIT": tool_images["busybox"],
                "TOOL_CACHE_VOLUME_PREFIX": cache_prefix,
            }
        )
        worker_cluster.start()
        return worker_cluster

    return start


def _poll_until_finished(client: Any, scan_id: int, worker: WorkerCluster) -> dict[str, Any]:
    """Poll the API as a CI job would, until the scan is in a terminal state."""
    seen: list[str] = []

    def finished() -> dict[str, Any] | None:
        answer = client.get(f"/api/v1/scans/{scan_id}")
        assert answer.status_code == 200, answer.content
        body: dict[str, Any] = answer.json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        return body if body["status"] in TERMINAL else None

    try:
        result: dict[str, Any] = wait_for(
            finished, timeout_s=90, interval_s=0.3, what=f"scan #{scan_id} to finish"
        )
    except BaseException:
        print(f"statuses seen: {seen}\nworker log:\n{worker.log()}")
        raise
    return result


@pytest.mark.slow
def test_an_authorized_image_is_scanned_by_a_worker_and_its_findings_are_read_then_deleted(
    image_worker: Callable[..., WorkerCluster],
    owner_api: Any,
    authorize: Any,
    tool_images: dict[str, str],
    cache_prefix: str,
    require_docker: Any,
) -> None:
    expected, severities, vulnerability_ids = _expected_findings()
    assert expected > 0
    authorize(IMAGE, kind="image")
    worker = image_worker()

    answer = owner_api.post(DOCKER_SCAN_URL, {"image": IMAGE}, format="json")

    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert set(body) == {"scan_id", "status"} and body["status"] == "pending"
    scan_id = body["scan_id"]
    assert answer["Location"] == f"/api/v1/scans/{scan_id}"

    detail = _poll_until_finished(owner_api, scan_id, worker)

    assert detail["status"] == "completed", (detail["error"], detail["steps"], worker.log())
    assert detail["source"] == "docker_api"
    assert detail["workflow_name"] == "Container image audit"
    assert detail["findings_count"] == expected
    assert {k: v for k, v in detail["severity_counts"].items() if v} == dict(severities)
    [step] = detail["steps"]
    assert step["node_type"] == "trivy" and step["status"] == "completed"
    assert step["executor"] == "docker"
    assert step["image"] == tool_images["trivy"]
    assert step["findings_count"] == expected
    [command] = step["commands"]
    assert command["argv"][:2] == ["trivy", "image"]
    assert command["argv"][-2:] == ["--", IMAGE]
    assert f"trivy-fake: image {IMAGE}" in step["stderr_tail"]
    # Trivy's database cache: a volume of its own, handed to the sandbox user, kept for the
    # next run (the stand-in downloads nothing, so it is empty).
    assert not ScanLog.objects.filter(scan_id=scan_id, message__contains="tool cache").exists()
    owner = require_docker.containers.run(
        tool_images["busybox"], ["stat", "-c", "%u", "/cache"], remove=True,
        network_mode="none", volumes={f"{cache_prefix}trivy": {"bind": "/cache", "mode": "ro"}},
    )  # fmt: skip
    assert owner.decode().strip() == "65534"

    as_json = owner_api.get(f"/api/v1/scans/{scan_id}?format=json")
    assert as_json.status_code == 200 and as_json["Content-Type"] == "application/json"
    assert as_json.json()["findings_count"] == expected
    results = as_json.json()["results"]
    assert len(results) == expected and {f["rule_id"] for f in results} == vulnerability_ids
    assert "results" not in owner_api.get(f"/api/v1/scans/{scan_id}").json()
    findings = owner_api.get(f"/api/v1/scans/{scan_id}/findings?page_size=100").json()
    assert findings["count"] == expected
    assert {f["rule_id"] for f in findings["results"]} == vulnerability_ids
    assert {f["item"] for f in findings["results"]} == {IMAGE}
    assert {f["tool"] for f in findings["results"]} == {"trivy"}

    table = owner_api.get(f"/api/v1/scans/{scan_id}?format=table")
    assert table.status_code == 200 and table["Content-Type"].startswith("text/plain")
    text = table.content.decode()
    assert f"Scan #{scan_id}" in text and "status=completed" in text
    for vulnerability_id in vulnerability_ids:
        assert vulnerability_id in text
    order = ("critical", "high", "medium", "low", "info")
    assert "findings: " + "  ".join(f"{s}={severities.get(s, 0)}" for s in order) in text

    artifacts = django_settings.ARTIFACTS_DIR / f"scan-{scan_id}"
    assert any(artifacts.rglob("trivy-1.json"))
    deleted = owner_api.delete(f"/api/v1/scans/{scan_id}")
    assert deleted.status_code == 204, deleted.content
    assert owner_api.get(f"/api/v1/scans/{scan_id}").status_code == 404
    assert not Scan.objects.filter(pk=scan_id).exists()
    assert not Finding.objects.filter(scan_id=scan_id).exists()
    assert not artifacts.exists()


def test_an_image_that_is_not_an_authorized_target_is_refused_and_no_scan_is_made(
    owner_api: Any,
    authorize: Any,
    team: Team,
    make_member: Any,
    issue_key: Any,
    api: Any,
) -> None:
    authorize(IMAGE, kind="image")

    for image in ("nginx:1.26", "registry.evil.test/nginx:1.25", ""):
        answer = owner_api.post(DOCKER_SCAN_URL, {"image": image}, format="json")
        assert answer.status_code == 400, (image, answer.content)
        assert "image" in answer.json()["errors"], answer.json()
        assert answer.json()["detail"]
    refused = owner_api.post(DOCKER_SCAN_URL, {"image": "nginx:1.26"}, format="json").json()
    assert "not in scope" in " ".join(refused["errors"]["image"])
    assert "image target" in refused["detail"]

    no_consent = owner_api.post(
        DOCKER_SCAN_URL, {"image": IMAGE, "authorize_targets": False}, format="json"
    )
    assert no_consent.status_code == 400 and "authorize_targets" in no_consent.json()["errors"]
    viewer = api(issue_key(make_member(team, Role.VIEWER), team).raw_key)
    assert viewer.post(DOCKER_SCAN_URL, {"image": IMAGE}, format="json").status_code == 403
    assert api().post(DOCKER_SCAN_URL, {"image": IMAGE}, format="json").status_code == 401

    # An exclusion of the whole repository wins over the tag's authorization.
    authorize("nginx", kind="image", excluded=True)
    excluded = owner_api.post(DOCKER_SCAN_URL, {"image": IMAGE}, format="json")
    assert excluded.status_code == 400, excluded.content
    assert "exclu" in " ".join(excluded.json()["errors"]["image"]).lower(), excluded.json()
    assert Scan.objects.count() == 0


@pytest.mark.slow
def test_a_trivy_image_that_is_not_available_fails_the_scan_with_a_clear_error(
    image_worker: Callable[..., WorkerCluster],
    owner_api: Any,
    authorize: Any,
    require_docker: Any,
) -> None:
    import docker.errors

    missing = "outpost-test/not-built:1"
    with pytest.raises(docker.errors.ImageNotFound):
        require_docker.images.get(missing)
    authorize(IMAGE, kind="image")
    worker = image_worker(trivy_image=missing)

    answer = owner_api.post(DOCKER_SCAN_URL, {"image": IMAGE}, format="json")
    assert answer.status_code == 202, answer.content
    detail = _poll_until_finished(owner_api, answer.json()["scan_id"], worker)

    assert detail["status"] == "failed", detail
    [step] = detail["steps"]
    assert step["status"] == "failed"
    assert step["image"] == missing
    reason = f"image {missing} is not available locally and cannot be pulled"
    assert reason in step["error"], step
    # The scan says which step failed on what, and it failed at once: a missing image is not
    # a transient failure worth retrying.
    assert detail["error"].startswith("trivy: ") and reason in detail["error"], detail["error"]
    assert step["attempt"] == 1
    assert detail["findings_count"] == 0
    table = owner_api.get(f"/api/v1/scans/{detail['id']}?format=table").content.decode()
    assert "status=failed" in table and f"error: {detail['error']}" in table
