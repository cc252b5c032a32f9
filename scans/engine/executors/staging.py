"""Files into and out of a tool container through the Docker API, never by host path.

A bind mount names a path on the *engine's* machine, so with a remote engine (`DOCKER_HOST`
tcp/ssh, another VM) the tool would see empty folders unless both machines share a filesystem.
Instead every invocation gets two volumes of its own on the engine:

- `…-in`, mounted read-only at `/input`: the worker copies the input files in (`put_archive`)
  through a short-lived **stager** container (the helper image, `TOOL_IMAGE_STAGER`, not yet
  started during the copy), which then runs `chown 65534:65534 /output` as root with CAP_CHOWN alone
  (no network, read-only root) so the sandbox user may write the output volume;
- `…-out`, mounted at `/output`: after the tool exits the worker copies it out of the stopped tool
  container (`get_archive`) into its local work folder, as a tar stream checked member by member
  (regular files and folders only, no links, no absolute or `..` paths, a size cap).

Both volumes carry the invocation's labels (managed, step, deployment): they are removed when
the run ends, and the reaper's orphan sweep removes those a dead worker left.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound

INPUT_DIR = "/input"
OUTPUT_DIR = "/output"
STAGER_TIMEOUT_S = 60
SPOOL_BYTES = 8 * 1024 * 1024


class StagingError(Exception):
    """The files could not be copied in or out (the reason is the step's error)."""


@dataclass
class Staging:
    input_volume: str
    output_volume: str

    def volumes(self) -> dict[str, dict[str, str]]:
        return {
            self.input_volume: {"bind": INPUT_DIR, "mode": "ro"},
            self.output_volume: {"bind": OUTPUT_DIR, "mode": "rw"},
        }


def _input_tar(files: dict[str, Path]) -> Any:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open
    with tarfile.open(fileobj=spool, mode="w") as tar:
        for name, path in sorted(files.items()):
            if not name or "/" in name or name in {".", ".."}:
                raise ValueError(f"invalid input file name {name!r}")
            info = tar.gettarinfo(str(path), arcname=name)
            if not info.isfile():
                raise ValueError(f"input {name!r} is not a regular file")
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o444  # readable by the sandbox user, writable by nobody
            with Path(path).open("rb") as handle:
                tar.addfile(info, handle)
    spool.seek(0)
    return spool


def staging_prepare(
    client: Any, *, files: dict[str, Path], image: str, user: str, labels: dict[str, str]
) -> Staging:
    """Create the invocation's volumes, copy `files` into the input one and hand the output one
    to `user`. Raises StagingError (and removes what it made) when that fails."""
    token = uuid.uuid4().hex[:16]
    staging = Staging(f"outpost-io-{token}-in", f"outpost-io-{token}-out")
    try:
        client.volumes.create(name=staging.input_volume, labels=labels)
        client.volumes.create(name=staging.output_volume, labels=labels)
        volumes = {
            staging.input_volume: {"bind": INPUT_DIR, "mode": "rw"},
            staging.output_volume: {"bind": OUTPUT_DIR, "mode": "rw"},
        }

        def copy_inputs(container: Any) -> None:
            if files:
                with _input_tar(files) as archive:
                    if not container.put_archive(INPUT_DIR, archive):
                        raise StagingError("the engine refused the input files")

        failure = chown_run(
            client, image=image, owner=user, folder=OUTPUT_DIR, volumes=volumes,
            labels=labels, before_start=copy_inputs,
        )  # fmt: skip
        if failure:
            raise StagingError(f"the stager's {failure}")
    except (StagingError, ValueError, APIError) as exc:
        staging_remove(client, staging)
        if isinstance(exc, APIError):
            raise StagingError(str(getattr(exc, "explanation", None) or exc)) from exc
        raise StagingError(str(exc)) from exc
    except BaseException:
        staging_remove(client, staging)
        raise
    return staging


def chown_run(
    client: Any,
    *,
    image: str,
    owner: str,
    folder: str,
    volumes: dict[str, dict[str, str]],
    labels: dict[str, str],
    before_start: Callable[[Any], None] | None = None,
    timeout_s: float = STAGER_TIMEOUT_S,
) -> str:
    """Run `chown owner folder` in a throwaway helper container: root with CAP_CHOWN alone, no
    network, read-only root, `volumes` mounted (`before_start` may copy files into it first).
    Returns "" on success, else what failed. Also how tool caches are handed to the sandbox user
    (scans.engine.executors.docker)."""
    container = client.containers.create(
        image=image, entrypoint=["chown"], command=[owner, folder], user="0:0",
        cap_drop=["ALL"], cap_add=["CHOWN"], security_opt=["no-new-privileges"], read_only=True,
        network_mode="none", mem_limit="64m", pids_limit=16, volumes=volumes, labels=labels,
        detach=True,
    )  # fmt: skip
    try:
        if before_start is not None:
            before_start(container)
        container.start()
        status = container.wait(timeout=timeout_s)
        if status.get("StatusCode") != 0:
            tail = container.logs(stdout=True, stderr=True)[-300:]
            return (
                f"chown exited with {status.get('StatusCode')}: "
                f"{tail.decode(errors='replace').strip()}"
            )
        return ""
    finally:
        with contextlib.suppress(NotFound):
            container.remove(force=True)


def staging_collect(container: Any, destination: Path, *, max_bytes: int) -> int:
    """Copy the stopped tool container's /output into `destination`; returns the bytes kept.
    Past `max_bytes` the rest is dropped and StagingError raised."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        stream, _stat = container.get_archive(OUTPUT_DIR)
    except NotFound:
        return 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        received = 0
        for chunk in stream:
            received += len(chunk)
            # The tar adds headers and padding: allow some room over the files' own size.
            if received > max_bytes + 1024 * 1024:
                raise StagingError(f"the tool's output files exceed {max_bytes} bytes")
            spool.write(chunk)
        spool.seek(0)
        return _extract(spool, destination)


def _extract(archive: io.IOBase | Any, destination: Path) -> int:
    kept = 0
    prefix = OUTPUT_DIR.strip("/") + "/"
    with tarfile.open(fileobj=archive, mode="r|") as tar:
        for member in tar:
            if not member.name.startswith(prefix) or not (member.isfile() or member.isdir()):
                continue  # the folder itself, links, devices: nothing a report needs
            member.name = member.name[len(prefix) :]
            if not member.name:
                continue
            # The "data" filter refuses absolute paths, `..` and anything leaving `destination`.
            tar.extract(member, destination, filter="data")
            kept += member.size if member.isfile() else 0
    return kept


def staging_remove(client: Any, staging: Staging | None) -> None:
    if staging is None:
        return
    for name in (staging.input_volume, staging.output_volume):
        with contextlib.suppress(NotFound, APIError):
            client.api.remove_volume(name, force=True)
