"""The reaper's clean-up on the Docker engine: tool containers, staging volumes and sandbox
holders that a worker of this deployment left behind when it died (scans.engine.reaper calls
`remove_orphans`)."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

import docker
from docker.errors import APIError, NotFound

from config.deployment import DEPLOYMENT_LABEL
from scans.engine.executors import engine_client
from scans.engine.sandbox.holders import remove_orphan_holders

MANAGED_LABEL = "outpost.managed"
STEP_LABEL = "outpost.step"


def remove_orphans(
    active_step_ids: set[int],
    *,
    deployment: str,
    max_age_s: float | None = None,
    min_age_s: float = 0,
    client: docker.DockerClient | None = None,
    labels: dict[str, str] | None = None,
) -> int:
    """Remove tool containers left behind by a worker of this deployment that died: every
    container labelled `outpost.managed=1` and `outpost.deployment=<deployment>` whose
    `outpost.step` is not among `active_step_ids`, and (when `max_age_s` is given) any of them
    older than that, whatever its step. Returns how many were removed.

    Called by the engine's reaper with its deployment id and the ids of the steps running right
    now in its database. `deployment` is required: step ids are only meaningful in the database
    that made them, so a sweep without it would kill the running steps of every other deployment
    (or test run) sharing the engine. Containers younger than `min_age_s` are left alone: the
    caller read `active_step_ids` before listing containers, so a step claimed in between has a
    container but is not in the set. `labels` narrows the sweep further (tests).

    Sandbox holders of this deployment whose owner process is gone go too
    (scans.engine.sandbox.holders.remove_orphan_holders; not narrowed by `labels`)."""
    if not deployment:
        raise ValueError("remove_orphans needs the deployment id whose containers it may remove")
    client = client or engine_client()
    now = time.time()
    wanted = [
        f"{MANAGED_LABEL}=1",
        f"{DEPLOYMENT_LABEL}={deployment}",
        *(f"{k}={v}" for k, v in (labels or {}).items()),
    ]
    removed = 0
    for summary in client.api.containers(all=True, filters={"label": wanted}):
        container_labels = summary.get("Labels") or {}
        if container_labels.get(DEPLOYMENT_LABEL) != deployment:
            continue  # the engine filtered already; never trust a filter with someone's scan
        step = str(container_labels.get(STEP_LABEL, ""))
        age_s = now - float(summary.get("Created") or 0)
        if age_s < min_age_s:
            continue
        is_active = step.isdigit() and int(step) in active_step_ids
        is_stale = max_age_s is not None and age_s > max_age_s
        if is_active and not is_stale:
            continue
        try:
            client.api.remove_container(summary["Id"], force=True)
            removed += 1
        except NotFound:
            pass  # removed meanwhile by its own executor
    removed += remove_orphan_holders(client, deployment=deployment, min_age_s=min_age_s)
    return removed + _remove_orphan_volumes(client, wanted, active_step_ids, min_age_s)


def _remove_orphan_volumes(
    client: docker.DockerClient, wanted: list[str], active_step_ids: set[int], min_age_s: float
) -> int:
    """The staging volumes (scans.engine.executors.staging) of steps no longer running. A volume
    still used by a container is refused by the engine and left for the next sweep."""
    removed = 0
    now = datetime.now(UTC)
    answer = client.api.volumes(filters={"label": wanted}) or {}
    for volume in answer.get("Volumes") or []:
        labels = volume.get("Labels") or {}
        if not str(volume.get("Name", "")).startswith("outpost-io-"):
            continue  # tool caches are kept between runs
        step = str(labels.get(STEP_LABEL, ""))
        if step.isdigit() and int(step) in active_step_ids:
            continue
        with contextlib.suppress(ValueError, TypeError):
            created = datetime.fromisoformat(str(volume.get("CreatedAt")).replace("Z", "+00:00"))
            if (now - created).total_seconds() < min_age_s:
                continue
        try:
            client.api.remove_volume(volume["Name"], force=True)
            removed += 1
        except (NotFound, APIError):
            pass  # gone meanwhile, or still in use
    return removed
