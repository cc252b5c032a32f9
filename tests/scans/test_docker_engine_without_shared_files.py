"""A tool container gets its inputs and gives its outputs through the Docker API, so an engine
that shares no filesystem with the worker works. The outside check found tool containers
bind-mounting output folders by host path: with a remote engine (`DOCKER_HOST=tcp://…`) the
worker's files were not where the engine looked.

The worker here runs in a mount namespace of its own (`unshare --mount`) whose work folder is a
tmpfs the engine cannot see, and reaches the engine over TCP: a bind mount by host path would
show the tool an empty folder there and lose its output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.engine_relay import EngineRelay
from tests.scans.tools.conftest import build_test_images

ROOT = Path(__file__).resolve().parents[2]

WORKER = r"""
import json, os, sys
from pathlib import Path
import django
django.setup()
import docker
from scans.engine.executors.docker import DockerExecutor
from scans.engine.runtime import ToolInvocation

work, image = Path(sys.argv[1]), sys.argv[2]
(work / "in").mkdir(parents=True)
(work / "in" / "targets.txt").write_text("127.0.0.1\n::1\n")
client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
script = (
    "cat /input/targets.txt > /output/copy.txt && mkdir /output/deep && "
    "echo found > /output/deep/report.json && grep -E ' /(input|output) ' /proc/self/mountinfo"
)
run = DockerExecutor(client).run(ToolInvocation(
    argv=["sh", "-c", script], timeout_s=60, workdir=work / "run", image=image,
    input_files={"targets.txt": work / "in" / "targets.txt"}, stager_image=image,
    labels={"outpost.step": "1", "outpost.test": "no-shared-files"},
))
out = work / "run" / "output"
print(json.dumps({
    "ok": run.ok, "error": run.error, "stdout": run.stdout.decode(), "stderr": run.stderr.decode(),
    "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()),
    "copy": (out / "copy.txt").read_text() if (out / "copy.txt").exists() else None,
    "report": (out / "deep" / "report.json").read_text() if (out / "deep" / "report.json").exists() else None,
}))
"""


def test_a_tool_on_an_engine_that_cannot_see_the_workers_files_gets_its_input_and_returns_its_output(
    engine_over_tcp: EngineRelay, tmp_path: Path, require_docker: Any
) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("a private mount namespace needs root and unshare")
    image = build_test_images()["busybox"]
    private = tmp_path / "worker-disk"
    private.mkdir()
    env = {**os.environ, "DOCKER_HOST": engine_over_tcp.url, "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "config.settings"}  # fmt: skip
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs worker-disk "$1" && exec "$2" -c "$3" "$1" "$4"',
         "sh", str(private), sys.executable, WORKER, image],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["ok"], result
    assert result["copy"] == "127.0.0.1\n::1\n"
    assert result["report"] == "found\n"
    assert result["files"] == ["copy.txt", "deep/report.json"]
    # /input and /output are the run's own volumes on the engine, not folders of the worker.
    mounts = [
        line for line in result["stdout"].splitlines() if " /input " in line or " /output " in line
    ]
    assert len(mounts) == 2 and all("outpost-io-" in line for line in mounts), mounts
    # Nothing of the worker's files ever reached the disk the engine sees.
    assert list(private.iterdir()) == []
    client = require_docker
    assert client.volumes.list(filters={"label": "outpost.test=no-shared-files"}) == []
    assert client.containers.list(all=True, filters={"label": "outpost.test=no-shared-files"}) == []
