"""Sandbox holders carry their deployment's label and their owner process: the reaper removes
the holders a dead worker of its own deployment left behind (and their links with them), and
never another deployment's on the same engine, nor those of a worker that still runs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.errors import NotFound

from config.deployment import DEPLOYMENT_LABEL, deployment_id
from scans.engine.reaper import reap_stale_steps
from scans.engine.sandbox.container import SANDBOX_USER
from scans.engine.sandbox.holders import (
    OWNER_LABEL,
    holder_owner,
    holder_remove,
    holder_start,
    owner_alive,
)
from scans.engine.sandbox.link import sandbox_unsupported
from tests.conftest import service_unavailable
from tests.scans.tools.conftest import build_test_images

ROOT = Path(__file__).resolve().parents[3]
# A worker that starts a holder and dies without cleaning up (os._exit: no atexit), as a killed
# worker process would.
DYING_WORKER = """
import os, sys
import django
django.setup()
from scans.engine.executors import engine_client
from scans.engine.sandbox.holders import holder_start
holder = holder_start(engine_client(), image=sys.argv[1], subnet=sys.argv[2], user=sys.argv[3],
                      deployment=sys.argv[4])
print(holder.container.id, holder.link.host_iface, flush=True)
os._exit(0)
"""


@pytest.fixture
def engine(require_docker: Any, settings: Any) -> Iterator[tuple[Any, str, list[str]]]:
    reason = sandbox_unsupported()
    if reason:
        service_unavailable("netns", reason)
    made: list[str] = []
    yield require_docker, build_test_images()["busybox"], made
    for container_id in made:
        with contextlib.suppress(NotFound):
            require_docker.api.remove_container(container_id, force=True)


def start_in_a_worker_that_dies(image: str, subnet: str, deployment: str) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", DYING_WORKER, image, subnet, SANDBOX_USER, deployment],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    container_id, iface = done.stdout.split()
    return container_id, iface


def link_exists(iface: str) -> bool:
    return subprocess.run(["ip", "link", "show", iface], capture_output=True).returncode == 0


def test_an_owner_label_tells_a_live_process_from_a_dead_one() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    boot, namespace, _pid, _started = holder_owner().split(":")
    with open(f"/proc/{sleeper.pid}/stat", encoding="ascii") as stat:
        started = stat.read().rsplit(")", 1)[1].split()[19]
    token = f"{boot}:{namespace}:{sleeper.pid}:{started}"
    assert owner_alive(token) is True
    sleeper.kill()
    sleeper.wait()

    assert owner_alive(token) is False
    assert owner_alive(holder_owner()) is True
    assert owner_alive(f"another-boot:{namespace}:1:1") is None  # cannot tell: left alone
    assert owner_alive("") is None


@pytest.mark.django_db
def test_the_reaper_removes_only_its_own_deployments_holders_whose_worker_died(
    engine: tuple[Any, str, list[str]], settings: Any
) -> None:
    client, image, made = engine
    settings.REAPER_ORPHAN_MIN_AGE_S = 0
    subnet = settings.SCOPE_SANDBOX_SUBNET
    ours_dead, ours_link = start_in_a_worker_that_dies(image, subnet, deployment_id())
    theirs_dead, theirs_link = start_in_a_worker_that_dies(image, subnet, uuid.uuid4().hex)
    live = holder_start(
        client, image=image, subnet=subnet, user=SANDBOX_USER, deployment=deployment_id()
    )
    made += [ours_dead, theirs_dead, live.container.id]
    try:
        labels = client.api.inspect_container(live.container.id)["Config"]["Labels"]
        assert labels[DEPLOYMENT_LABEL] == deployment_id()
        assert labels[OWNER_LABEL] == holder_owner()
        assert link_exists(ours_link) and link_exists(theirs_link)

        summary = reap_stale_steps()

        left = {c.id for c in client.containers.list(all=True)}
        assert ours_dead not in left
        assert theirs_dead in left and live.container.id in left
        assert "containers_removed=1" in summary
        assert not link_exists(ours_link)  # the link went with the holder's namespace
        assert link_exists(theirs_link) and link_exists(live.link.host_iface)
    finally:
        holder_remove(live)
