"""The worker container's healthcheck judges its own django-q2 cluster (found by the pid of the
qcluster process running here and the host), not any cluster reported under the host name: a
killed cluster's status, still in the broker for a while, does not keep it healthy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("require_redis")]


def _healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "container-healthcheck")],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_worker_check_follows_its_own_cluster_not_the_host_name(worker_cluster: Any) -> None:
    proc = worker_cluster.start()

    alive = _healthcheck(worker_cluster.env)
    assert alive.returncode == 0, alive.stdout + alive.stderr
    assert f"(pid {proc.pid}) " in alive.stdout

    worker_cluster.kill(proc)
    from django_q.status import Stat

    assert any(stat.pid == proc.pid for stat in Stat.get_all())  # its status is still there
    # With no qcluster process left here the check fails before it asks the broker; a process
    # that calls itself qcluster (a restarted main process whose cluster never came up) makes it
    # judge the clusters, so the dead one's status is what it must refuse, on any machine.
    hung = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "qcluster"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        dead = _healthcheck(worker_cluster.env)
    finally:
        hung.kill()
        hung.wait(timeout=10)
    assert dead.returncode == 1, dead.stdout
    assert "no live cluster of this container" in dead.stdout, dead.stdout
