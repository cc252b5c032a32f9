"""The Docker executor: one tool invocation = one short-lived, locked-down container.

Sandbox (every container, whatever the tool):
- runs as an unprivileged user (`65534:65534`, "nobody"), never root;
- read-only root filesystem; the only writable places are a size-limited tmpfs at `/tmp`
  (also `HOME`, for tools that keep a cache) and the invocation's output volume at `/output`;
- `cap_drop=ALL`, `no-new-privileges`, the engine's default seccomp profile; a tool whose module
  declares capabilities (`Tool.capabilities`: masscan's NET_RAW for raw sockets) gets exactly those
  back (`cap_add`), and only those in GRANTABLE_CAPABILITIES; such a tool runs as uid 0 of its
  container (`0:0`), because Docker hands added capabilities to uid 0 only (it sets no ambient
  capabilities, and no-new-privileges voids file capabilities): that root holds nothing but the
  granted capabilities (no CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_SETUID…), on the same read-only root;
- memory limit with swap equal to it (no swap), CPU quota (`nano_cpus`), pids limit;
- the tool's network mode from settings (`none` for tools that only read mounted files), or,
  when the step is sandboxed (SCOPE_ENFORCEMENT), the namespace of a holder container fenced to
  the step's authorized destinations (scans.engine.sandbox);
- input files at `/input/<name>` on a read-only volume; inputs and outputs are copied in and out
  through the Docker API (scans.engine.executors.staging), never bind-mounted by host path, so
  an engine on another machine (`DOCKER_HOST`) works without a shared filesystem;
- a wall-clock timeout and a cancel check, both of which kill the container; an output cap
  (stdout + stderr) past which the container is killed;
- a tool with a cache (`ToolInvocation.cache_volume`: trivy's and grype's databases) gets its
  own named volume at `/cache` (`XDG_CACHE_HOME`), the same on every run of that tool and
  mounted into no other tool's containers; the first time a worker process uses it, a
  throwaway container of `cache_init_image` running `chown 65534:65534 /cache` as root with
  CAP_CHOWN alone (no network, read-only root) hands it to the sandbox user. When that cannot
  be done the tool runs without a cache, and the run's notes say why;
- the container is always removed, whatever happened (`finally`), and is labelled
  `outpost.managed=1` + `outpost.step=<id>` + `outpost.deployment=<id>` so `remove_orphans` can
  clean up after a worker that died between create and remove, without touching the containers
  of another deployment (or test run) that shares the Docker engine.

Entrypoint rule: `argv` is the complete command line, as recorded on the step. When the image's
own ENTRYPOINT is the same program as `argv[0]` (same basename, e.g. upstream `anchore/grype`
has ENTRYPOINT `/grype` and argv starts with `grype`), the image's entrypoint is kept and
`argv[1:]` is passed as the command: that is how upstream tool images expect to be run, even the
`FROM scratch` ones without a PATH. Otherwise the entrypoint is overridden with `argv[0]`.
"""

from __future__ import annotations

import contextlib
import posixpath
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
import requests
from django.conf import settings
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import LogConfig
from docker.utils.socket import STDERR, frames_iter

from scans.engine.executors import engine_client
from scans.engine.executors.orphans import MANAGED_LABEL, STEP_LABEL, remove_orphans
from scans.engine.executors.staging import (
    Staging,
    StagingError,
    chown_run,
    staging_collect,
    staging_prepare,
    staging_remove,
)
from scans.engine.faults import is_infrastructure_fault
from scans.engine.runtime import ToolInvocation, ToolRun
from scans.engine.sandbox.container import SANDBOX_USER, tool_network
from scans.engine.sandbox.link import SandboxError

CONTAINER_TMP = "/tmp"  # noqa: S108 - the container's own tmpfs, not the host's /tmp
CACHE_DIR = "/cache"
CACHE_LABEL = "outpost.cache"
CACHE_INIT_TIMEOUT_S = 60
# A tool granted capabilities runs as the container's uid 0 (see the module docstring).
CAPABLE_USER = "0:0"
# What a tool module may be granted: raw sockets (masscan builds its own packets).
GRANTABLE_CAPABILITIES = frozenset({"NET_RAW"})
# What reaching the engine can raise: the SDK's errors, its HTTP session's, and paramiko's for
# ssh:// engines (an unknown host key, a refused login).
ENGINE_ERRORS: tuple[type[Exception], ...] = (DockerException, requests.RequestException, OSError)
with contextlib.suppress(ImportError):
    import paramiko

    ENGINE_ERRORS += (paramiko.SSHException,)
POLL_INTERVAL_S = 0.1
# Signs in stderr that fork()/clone() failed with EAGAIN, which is how hitting the pids limit
# shows up to the tool (the kernel refuses the new process; nothing is killed).
_FORK_FAILURE_MARKERS = (
    b"can't fork",
    b"cannot fork",
    b"fork: retry",
    b"fork failed",
    b"Resource temporarily unavailable",
)


def _seconds(value: float) -> str:
    return f"{value:g}"


@dataclass
class _OutputCollector:
    """Reads the attached stdout/stderr stream, keeping at most `cap` bytes in total and flagging
    when the tool wrote more."""

    cap: int
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    total: int = 0
    over_cap: threading.Event = field(default_factory=threading.Event)

    def consume(self, frames: Iterator[tuple[int, bytes]]) -> None:
        """Reads (stream id, bytes) frames: 1 is stdout, 2 stderr."""
        try:
            for stream_id, chunk in frames:
                if not chunk:
                    continue
                room = self.cap - self.total
                if room > 0:
                    (self.stderr if stream_id == STDERR else self.stdout).extend(chunk[:room])
                self.total += len(chunk)
                if self.total > self.cap:
                    self.over_cap.set()
                # Past the cap the stream is still drained (and dropped) until the container is
                # killed: the engine holds a container until its stdio has been copied out, so an
                # unread stream would block the kill and the removal.
        except (DockerException, requests.RequestException, OSError, ValueError):
            return  # the stream ends when the container is killed or removed


class _CacheUnavailable(Exception):
    pass


# Cache volumes this process has handed to the sandbox user (once per process and volume), and
# when preparing one last failed: it is not tried again for CACHE_RETRY_S (a pull that cannot
# reach a registry may take long; every run would wait for it).
_caches_ready: set[str] = set()
_caches_failed: dict[str, tuple[float, str]] = {}
_caches_lock = threading.Lock()
CACHE_RETRY_S = 600.0


class DockerExecutor:
    """Runs a ToolInvocation in a container (see the module docstring for the sandbox)."""

    name = "docker"

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        user: str = SANDBOX_USER,
        tmpfs_mb: int = 256,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self._client = client
        self.user = user
        self.tmpfs_mb = tmpfs_mb
        self.poll_interval_s = poll_interval_s

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = engine_client()  # DOCKER_HOST / DOCKER_TLS_VERIFY honoured
        return self._client

    def run(self, invocation: ToolInvocation) -> ToolRun:
        started = time.monotonic()
        result = ToolRun(
            argv=list(invocation.argv), executor=self.name, exit_code=None, image=invocation.image
        )
        try:
            self._run(invocation, result)
        except ENGINE_ERRORS as exc:
            result.error = result.error or f"docker engine error: {exc}"
            result.infrastructure = is_infrastructure_fault(exc)
        result.duration_ms = (time.monotonic() - started) * 1000
        return result

    def _run(self, invocation: ToolInvocation, result: ToolRun) -> None:
        if not invocation.argv:
            result.error = "empty command"
            return
        if not invocation.image:
            result.error = "the docker executor needs an image"
            return
        refused = sorted(set(invocation.capabilities) - GRANTABLE_CAPABILITIES)
        if refused:
            result.error = f"capabilities not grantable to a tool: {', '.join(refused)}"
            return
        user = CAPABLE_USER if invocation.capabilities else self.user
        output_dir = invocation.workdir / "output"
        output_dir.mkdir(parents=True, exist_ok=True)
        result.output_dir = output_dir

        image = self._image(invocation.image, result)
        if image is None:
            return
        digests = image.attrs.get("RepoDigests") or []
        result.image_digest = str(digests[0]) if digests else str(image.id)

        cache = self._cache(invocation, result)
        container = None
        staging = None
        try:
            staging = staging_prepare(
                self.client,
                files=invocation.input_files,
                image=self._stager_image(invocation, result),
                user=user,
                labels=_labels(invocation),
            )
            with tool_network(self.client, invocation, result, user=self.user) as network:
                args = self._create_args(invocation, image, staging, cache=cache, user=user)
                container = self.client.containers.create(**{**args, "network_mode": network})
                self._supervise(container, invocation, result)
            staging_collect(container, output_dir, max_bytes=int(invocation.max_output_bytes))
        except SandboxError as exc:
            result.error = f"the network sandbox could not be set up: {exc}"
        except StagingError as exc:
            result.error = result.error or f"the tool's files could not be staged: {exc}"
        finally:
            if container is not None:
                with contextlib.suppress(NotFound):
                    container.remove(force=True)
            staging_remove(self.client, staging)

    def _stager_image(self, invocation: ToolInvocation, result: ToolRun) -> str:
        ref = invocation.stager_image or settings.TOOL_IMAGE_STAGER
        image = self._image(ref, result)
        if image is None:
            raise StagingError(result.error or f"the helper image {ref} is not available")
        return str(image.id)

    def _image(self, ref: str, result: ToolRun) -> Any:
        try:
            return self.client.images.get(ref)
        except ImageNotFound:
            pass
        try:
            repository, tag = _split_reference(ref)
            return self.client.images.pull(repository, tag=tag)
        except (DockerException, requests.RequestException) as exc:
            reason = getattr(exc, "explanation", None) or str(exc)
            result.error = f"image {ref} is not available locally and cannot be pulled: {reason}"
            return None

    def _cache(self, invocation: ToolInvocation, result: ToolRun) -> str:
        """The invocation's cache volume, ready for the sandbox user; "" when it has none or it
        cannot be prepared (the tool then runs without one: slower, not wrong)."""
        name = invocation.cache_volume
        if not name:
            return ""
        with _caches_lock:
            if name in _caches_ready:
                return name
            failed_at, reason = _caches_failed.get(name, (0.0, ""))
        if not reason or time.monotonic() - failed_at >= CACHE_RETRY_S:
            try:
                self._cache_prepare(name, invocation)
                with _caches_lock:
                    _caches_ready.add(name)
                    _caches_failed.pop(name, None)
                return name
            except (_CacheUnavailable, DockerException, requests.RequestException) as exc:
                reason = str(getattr(exc, "explanation", None) or exc)[:300]
                with _caches_lock:
                    _caches_failed[name] = (time.monotonic(), reason)
        result.notes.append(f"tool cache {name} unavailable, running without it: {reason}")
        return ""

    def _cache_prepare(self, name: str, invocation: ToolInvocation) -> None:
        # Creating a volume that exists returns it; a concurrent chown is harmless.
        self.client.volumes.create(name=name, labels={CACHE_LABEL: "1"})
        probe = ToolRun(argv=[], executor=self.name, exit_code=None)
        image = (
            self._image(invocation.cache_init_image, probe) if invocation.cache_init_image else None
        )
        if image is None:
            raise _CacheUnavailable(probe.error or "no image to prepare it with")
        failure = chown_run(
            self.client,
            image=image.id,
            owner=SANDBOX_USER,
            folder=CACHE_DIR,
            volumes={name: {"bind": CACHE_DIR, "mode": "rw"}},
            labels=_labels(invocation),
            timeout_s=CACHE_INIT_TIMEOUT_S,
        )
        if failure:
            raise _CacheUnavailable(failure)

    def _create_args(
        self,
        invocation: ToolInvocation,
        image: Any,
        staging: Staging,
        *,
        cache: str = "",
        user: str = "",
    ) -> dict[str, Any]:
        argv = list(invocation.argv)
        image_entrypoint = (image.attrs.get("Config") or {}).get("Entrypoint") or []
        if len(image_entrypoint) == 1 and posixpath.basename(
            image_entrypoint[0]
        ) == posixpath.basename(argv[0]):
            entrypoint, command = None, argv[1:]
        else:
            entrypoint, command = [argv[0]], argv[1:]
        volumes = staging.volumes()
        environment = {"HOME": CONTAINER_TMP}
        if cache:
            volumes[cache] = {"bind": CACHE_DIR, "mode": "rw"}
            environment["XDG_CACHE_HOME"] = CACHE_DIR
        memory = f"{int(invocation.memory_mb)}m"
        return {
            "image": image.id,
            "entrypoint": entrypoint,
            "command": command,
            "user": user or self.user,
            "environment": {**environment, **invocation.env},
            "working_dir": CONTAINER_TMP,
            "read_only": True,
            "tmpfs": {CONTAINER_TMP: f"rw,nosuid,nodev,size={int(self.tmpfs_mb)}m,mode=1777"},
            "cap_drop": ["ALL"],
            "cap_add": sorted(invocation.capabilities),
            "security_opt": ["no-new-privileges"],
            "mem_limit": memory,
            "memswap_limit": memory,
            "nano_cpus": int(invocation.cpus * 1_000_000_000),
            "pids_limit": int(invocation.pids_limit),
            "network_mode": invocation.network,
            "volumes": volumes,
            "labels": _labels(invocation),
            # Read back through the log stream; capped on disk too, so a tool printing faster
            # than we read cannot fill the engine's disk before it is stopped.
            "log_config": LogConfig(
                type=LogConfig.types.JSON,
                config={
                    "max-size": f"{invocation.max_output_bytes // 2**20 + 1}m",
                    "max-file": "2",
                },
            ),
            "stdin_open": False,
            "tty": False,
            "detach": True,
        }

    def _supervise(self, container: Any, invocation: ToolInvocation, result: ToolRun) -> None:
        api = self.client.api
        # Attach before start, so not a byte is missed even from a tool that exits at once. The
        # attach stream is raw (no log driver in between: json-file decoding caps throughput at
        # a few MB/s, far below what a runaway tool prints before the cap stops it).
        sock = api.attach_socket(container.id, params={"stdout": 1, "stderr": 1, "stream": 1})
        # The client's read timeout (60 s) must not end the stream of a tool that is silent for
        # a while: the stream would stop being drained and the engine would block on it.
        _without_read_timeout(sock)
        frames = frames_iter(sock, tty=False)
        collector = _OutputCollector(cap=max(0, int(invocation.max_output_bytes)))
        reader = threading.Thread(target=collector.consume, args=(frames,), daemon=True)
        reader.start()
        container.start()
        deadline = time.monotonic() + invocation.timeout_s
        stop_reason = ""
        while True:
            state = api.inspect_container(container.id)["State"]
            if state.get("Status") not in {"created", "running"}:
                break
            if collector.over_cap.is_set():
                stop_reason = "output"
            elif time.monotonic() >= deadline:
                stop_reason = "timeout"
            elif invocation.cancel_check is not None and invocation.cancel_check():
                stop_reason = "cancel"
            if stop_reason:
                _kill(container)
                api.wait(container.id, timeout=30)
                state = api.inspect_container(container.id)["State"]
                break
            collector.over_cap.wait(self.poll_interval_s)
        reader.join(timeout=30)  # the stream ends once the container has stopped
        _close(sock)

        result.stdout = bytes(collector.stdout)
        result.stderr = bytes(collector.stderr)
        result.exit_code = state.get("ExitCode")
        result.output_truncated = collector.over_cap.is_set()
        result.timed_out = stop_reason == "timeout"
        result.cancelled = stop_reason == "cancel"
        pids_hit = result.exit_code != 0 and any(m in result.stderr for m in _FORK_FAILURE_MARKERS)
        if result.cancelled:
            result.error = "cancelled"
        elif result.timed_out:
            result.error = f"timed out after {_seconds(invocation.timeout_s)} s"
        elif result.output_truncated:
            result.error = (
                f"output exceeded {invocation.max_output_bytes} bytes (stdout + stderr): "
                "the tool was stopped"
            )
        elif state.get("OOMKilled"):
            result.error = f"killed: memory limit of {invocation.memory_mb} MB exceeded"
        elif pids_hit:
            result.error = (
                f"process limit of {invocation.pids_limit} reached: the tool could not start more "
                f"processes (exit code {result.exit_code})"
            )
        elif result.exit_code == 137:
            result.error = "killed by SIGKILL (exit code 137)"
        if pids_hit and (result.timed_out or result.cancelled):
            result.error += f" (process limit of {invocation.pids_limit} reached)"


def _labels(invocation: ToolInvocation) -> dict[str, str]:
    """Every container of an invocation (the tool's, a cache's preparation) carries its step, so
    the reaper finds those a dead worker left."""
    return {
        STEP_LABEL: str(invocation.labels.get(STEP_LABEL, "")),
        **{str(k): str(v) for k, v in invocation.labels.items()},
        MANAGED_LABEL: "1",
    }


def _kill(container: Any) -> None:
    with contextlib.suppress(NotFound, APIError):  # already gone or already stopped
        container.kill()


def _without_read_timeout(sock: Any) -> None:
    for candidate in (sock, getattr(sock, "_sock", None)):
        if candidate is not None and hasattr(candidate, "settimeout"):
            candidate.settimeout(None)


def _close(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        # best effort: the socket dies with the container anyway
        with contextlib.suppress(Exception):
            close()


def _split_reference(ref: str) -> tuple[str, str | None]:
    """`name[:tag][@digest]` → (repository, tag or digest). Without a tag, `latest`: the SDK would
    otherwise pull *every* tag of the repository."""
    if "@" in ref:
        repository, digest = ref.split("@", 1)
        return repository, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = ref.rsplit(":", 1)
        return repository, tag
    return ref, "latest"


__all__ = ["DockerExecutor", "remove_orphans"]
