"""`outpost … --wait` against a live server and a real worker cluster: progress on stderr, the
results on stdout, the exit code from the finished scan."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Team, User
from targets.services import target_create
from tests.cli.conftest import CliRun, assert_valid_sarif
from tests.workers import WorkerCluster
from workflows.services import workflow_create

Outpost = Callable[..., CliRun]


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A TCP port open on 127.0.0.1 for the port scan to find."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


@pytest.mark.slow
def test_scan_run_waits_with_progress_and_exits_0(
    outpost: Outpost, user: User, team: Team, worker: WorkerCluster, listening_port: int
) -> None:
    target_create(team=team, user=user, value="127.0.0.1", note="the test's own loopback")
    workflow = workflow_create(
        team=team, user=user, name="CLI port scan",
        graph={"nodes": [{"id": "ports", "type": "port_scan", "config": {"ports": str(listening_port)}, "x": 0, "y": 0}], "edges": []},
    )  # fmt: skip
    run = outpost(
        "scan", "run", "--workflow", str(workflow.pk), "--target", "127.0.0.1",
        "--wait", "--poll-interval", "0.3", "--format", "json", "--fail-on", "info",
    )  # fmt: skip
    assert run.code == 0, f"{run.stderr}\n{worker.log()}"
    body = run.json()
    scan = body["scan"]
    assert scan["status"] == "completed"
    step = scan["steps"][0]
    assert step["node_type"] == "port_scan" and step["items_out"] == 1
    # progress: submission, the step's transitions, the final line; nothing of it on stdout
    assert f"started scan #{scan['id']} of workflow {workflow.pk}" in run.stderr
    assert "step ports (port_scan) completed in" in run.stderr
    assert f"scan #{scan['id']} completed: 0 findings" in run.stderr
    assert "ok: no open findings at or above info" in run.stderr
    assert "[outpost]" not in run.stdout


@pytest.mark.slow
def test_scan_image_waits_and_gates_on_high_with_sarif_output(
    outpost: Outpost,
    user: User,
    team: Team,
    worker_cluster: WorkerCluster,
    require_docker: Any,
    tmp_path: Path,
) -> None:
    from tests.scans.tools.conftest import build_test_images

    images = build_test_images()
    # The worker runs Trivy's stand-in image (it writes a real Trivy report: 1 critical, 1 high).
    worker_cluster.env.update(
        {
            "TOOL_IMAGE_TRIVY": images["trivy"],
            "TOOL_NETWORK_TRIVY": "none",
            "SCAN_EXECUTOR": "docker",
        }
    )
    worker_cluster.start()
    target_create(team=team, user=user, value="nginx:1.25", kind="image", note="CI image")
    out = tmp_path / "results.sarif"
    run = outpost(
        "scan", "image", "nginx:1.25", "--wait", "--fail-on", "high", "--format", "sarif",
        "--output", str(out), "--poll-interval", "0.3",
    )  # fmt: skip
    assert run.code == 1, f"{run.stderr}\n{worker_cluster.log()}"
    assert "submitted image nginx:1.25: scan #" in run.stderr
    assert "step trivy (trivy) completed" in run.stderr
    assert "FAIL: 2 open findings at or above high (1 critical, 1 high)" in run.stderr
    log = json.loads(out.read_text())
    assert_valid_sarif(log)
    assert sum(len(r["results"]) for r in log["runs"]) == 5
