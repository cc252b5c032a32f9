"""Two deployments (or a test run beside a dev server) share one Docker engine: each labels its
tool containers with its deployment id, made at the first migrate and shown in /health, and its
reaper removes only its own orphans (issue #21, item 1: before, `remove_orphans` removed every
`outpost.managed=1` container whose step was not running in *its* database, killing the other
deployment's steps with exit code 137 or "No such container")."""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from docker.errors import NotFound

from config.deployment import DEPLOYMENT_LABEL, deployment_id
from config.models import Deployment
from scans.engine.executors.docker import remove_orphans
from scans.engine.reaper import reap_stale_steps
from scans.engine.step import step_run
from scans.models import ScanStep
from scans.services import scan_start
from tests.scans.tools.conftest import build_test_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def docker_client(require_docker: Any) -> Any:
    build_test_images()
    return require_docker


@pytest.fixture
def made_containers(docker_client: Any) -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for container in made:
        with contextlib.suppress(NotFound):
            container.remove(force=True)


def test_the_first_migrate_gives_the_deployment_an_id_that_stays() -> None:
    stored = Deployment.objects.get(pk=1).deployment_id

    assert re.fullmatch(r"[0-9a-f]{32}", stored)
    assert deployment_id() == deployment_id() == stored


def test_a_flushed_database_gets_a_new_id_on_first_use() -> None:
    before = deployment_id()
    Deployment.objects.all().delete()

    after = deployment_id()

    assert re.fullmatch(r"[0-9a-f]{32}", after) and after != before
    assert Deployment.objects.get(pk=1).deployment_id == after


def test_health_names_the_deployment() -> None:
    assert Client().get("/health").json()["deployment"] == deployment_id()


def test_remove_orphans_refuses_to_sweep_without_a_deployment(docker_client: Any) -> None:
    with pytest.raises(ValueError, match="deployment id"):
        remove_orphans(set(), deployment="", client=docker_client)


def test_the_reaper_removes_only_the_orphans_of_its_own_deployment(
    docker_client: Any, made_containers: list[Any], settings: Any
) -> None:
    settings.REAPER_ORPHAN_MIN_AGE_S = 0
    other = uuid.uuid4().hex

    def container(deployment: str, step: str) -> Any:
        made = docker_client.containers.create(
            "outpost-test/busybox:1",
            command=["sleep", "60"],
            labels={"outpost.managed": "1", "outpost.step": step, DEPLOYMENT_LABEL: deployment},
        )
        made_containers.append(made)
        return made

    # Step 900001 runs nowhere in this database: ours is an orphan, the other deployment's is
    # its own business (in its database that step may well be running).
    ours = container(deployment_id(), "900001")
    theirs = container(other, "900001")
    unlabelled_legacy = docker_client.containers.create(
        "outpost-test/busybox:1",
        command=["sleep", "60"],
        labels={"outpost.managed": "1", "outpost.step": "900001"},
    )
    made_containers.append(unlabelled_legacy)

    summary = reap_stale_steps()

    left = {c.id for c in docker_client.containers.list(all=True)}
    assert ours.id not in left
    assert theirs.id in left and unlabelled_legacy.id in left
    assert "containers_removed=1" in summary


def test_the_reaper_spares_a_container_younger_than_its_grace(
    docker_client: Any, made_containers: list[Any]
) -> None:
    """The running steps are read before the containers are listed: a step claimed in between
    has a young container and is not in the set."""
    young = docker_client.containers.create(
        "outpost-test/busybox:1",
        command=["sleep", "60"],
        labels={
            "outpost.managed": "1",
            "outpost.step": "900003",
            DEPLOYMENT_LABEL: deployment_id(),
        },
    )
    made_containers.append(young)

    reap_stale_steps()

    assert young.id in {c.id for c in docker_client.containers.list(all=True)}


@pytest.mark.django_db(transaction=True)
def test_a_tool_step_container_carries_the_deployment_label(
    docker_client: Any,
    settings: Any,
    user: Any,
    team: Any,
    authorize: Callable[..., Any],
    make_workflow: Callable[..., Any],
    http_server: Any,
) -> None:
    """A real nmap step, run by the engine: its container is labelled while it runs."""
    settings.SCAN_EXECUTOR = "docker"
    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "nmap": "outpost-test/nmap:1"}
    settings.TOOL_NETWORK = {**settings.TOOL_NETWORK, "nmap": "host"}
    workflow = make_workflow(
        [{"id": "nmap", "type": "nmap", "config": {"ports": str(http_server.port)}}]
    )
    scan = scan_start(
        team=team, user=user, workflow=workflow,
        target_ids=[authorize("127.0.0.1").pk], consent=True,
    )  # fmt: skip
    seen: list[dict[str, str]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set() and not seen:
            seen.extend(
                found["Labels"]
                for found in docker_client.api.containers(
                    all=True, filters={"label": [f"outpost.scan={scan.pk}"]}
                )
            )
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        outcome = step_run(ScanStep.objects.get(scan=scan).pk)
    finally:
        done.set()
        watcher.join()

    assert outcome == "completed", ScanStep.objects.get(scan=scan).error
    assert seen, "no container of the step was seen"
    assert seen[0][DEPLOYMENT_LABEL] == deployment_id()
    assert seen[0]["outpost.managed"] == "1"
