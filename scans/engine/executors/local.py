"""The local executor: a tool as a subprocess on this host, with resource limits.

It is the embedded default's executor (no Docker) and the one for tools installed on the host.
What it guarantees, and what it cannot:

- The argv list is executed directly (never through a shell), in a new session and so a new process
  group, with cwd = the invocation's workdir and an almost empty environment: PATH, HOME=workdir,
  LANG, OUTPUT_DIR/INPUT_DIR, plus `invocation.env`. Nothing of the worker's environment (database
  URL, secret key, API tokens) leaks into a tool.
- Files: `workdir/output` is created and is the ToolRun's output_dir (what `/output` is in Docker);
  tool adapters put that path into argv themselves. `invocation.input_files` are linked read-only
  in spirit (they are the caller's files) as `workdir/input/<name>`. OUTPUT_DIR and INPUT_DIR name
  both folders in the environment.
- Limits (setrlimit in the child before exec): RLIMIT_AS = memory_mb, RLIMIT_CPU = the timeout
  (a backstop; the wall clock kills first), RLIMIT_FSIZE = max_output_bytes, RLIMIT_CORE = 0 and
  RLIMIT_NPROC = pids_limit. RLIMIT_NPROC counts *every* process of the user, not just the tool's,
  and root ignores it: when the worker runs as root it has no effect, and as a dedicated user its
  budget is shared with the worker's own processes. Docker's pids cgroup is the real limit.
- Stopping: a wall-clock timeout, the output cap (stdout + stderr together) and cancellation
  (`invocation.cancel_check`, polled every 0.2 s) stop the whole process group: SIGTERM, then
  SIGKILL after 2 s. When the tool exits by itself, whatever it left running in its group is killed.
  A process that starts its own session (setsid) leaves the group and escapes this; containers do
  not have that hole.
- No network isolation: `invocation.network` is ignored. Scope is enforced by the runners.

Exit codes: the tool's own, or 128 + signal number when a signal ended it (as shells and Docker
report it).
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from scans.engine.runtime import ToolInvocation, ToolRun

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
POLL_INTERVAL_S = 0.2
KILL_GRACE_S = 2.0
DRAIN_AFTER_EXIT_S = 1.0  # how long to keep reading pipes that an escaped process holds open
READ_CHUNK = 65536


def _limits_for(invocation: ToolInvocation) -> list[tuple[int, int]]:
    """(resource, value) pairs the child sets on itself before exec; soft = hard."""
    cpu_s = max(1, math.ceil(invocation.timeout_s)) + 1
    limits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_FSIZE, max(1, invocation.max_output_bytes)),
    ]
    if invocation.memory_mb > 0:
        limits.append((resource.RLIMIT_AS, invocation.memory_mb * 1024 * 1024))
    if invocation.pids_limit > 0:
        limits.append((resource.RLIMIT_NPROC, invocation.pids_limit))
    return limits


def _preexec(limits: list[tuple[int, int]]) -> Callable[[], None]:
    def apply_limits() -> None:
        # Runs in the forked child: only setrlimit calls, no locks, no imports.
        for which, value in limits:
            try:
                _soft, hard = resource.getrlimit(which)
                capped = value if hard == resource.RLIM_INFINITY else min(value, hard)
                resource.setrlimit(which, (capped, capped))
            except (ValueError, OSError):
                pass  # a limit the platform refuses is not a reason not to run the tool

    return apply_limits


def _environment(invocation: ToolInvocation, output_dir: Path, input_dir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH") or DEFAULT_PATH,
        "HOME": str(invocation.workdir),
        "LANG": "C.UTF-8",
        "OUTPUT_DIR": str(output_dir),
        "INPUT_DIR": str(input_dir),
        **invocation.env,
    }


def _exit_code(status: int) -> int:
    return 128 - status if status < 0 else status


class LocalExecutor:
    """Runs a ToolInvocation as a limited subprocess (see the module docstring)."""

    name = "local"

    def __init__(
        self, *, poll_interval_s: float = POLL_INTERVAL_S, kill_grace_s: float = KILL_GRACE_S
    ):
        self.poll_interval_s = poll_interval_s
        self.kill_grace_s = kill_grace_s

    def run(self, invocation: ToolInvocation) -> ToolRun:
        workdir = Path(invocation.workdir)
        output_dir = workdir / "output"
        input_dir = workdir / "input"
        output_dir.mkdir(parents=True, exist_ok=True)
        input_dir.mkdir(parents=True, exist_ok=True)
        for name, source in invocation.input_files.items():
            link = input_dir / Path(name).name  # a name, never a path out of input/
            if not link.exists():
                link.symlink_to(Path(source).resolve())
        result = ToolRun(
            argv=list(invocation.argv), executor=self.name, exit_code=None, output_dir=output_dir
        )
        if not invocation.argv:
            result.error = "empty argv"
            return result
        if _cancel_requested(invocation):
            result.cancelled, result.error = True, "cancelled"
            return result

        started = time.monotonic()
        try:
            process = subprocess.Popen(
                list(invocation.argv),
                cwd=workdir,
                env=_environment(invocation, output_dir, input_dir),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
                preexec_fn=_preexec(_limits_for(invocation)),
            )
        except OSError as exc:
            result.error = f"cannot start {invocation.argv[0]}: {exc.strerror or exc}"
            result.duration_ms = (time.monotonic() - started) * 1000
            return result
        try:
            self._supervise(process, invocation, result, started)
        finally:
            # Whatever happened (even an exception in cancel_check), nothing stays behind.
            if process.returncode is None:
                _kill_group(process.pid, signal.SIGKILL)
                result.exit_code = _exit_code(process.wait())
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        result.duration_ms = (time.monotonic() - started) * 1000
        return result

    def _supervise(
        self,
        process: subprocess.Popen[bytes],
        invocation: ToolInvocation,
        result: ToolRun,
        started: float,
    ) -> None:
        assert process.stdout is not None and process.stderr is not None
        cap = max(0, invocation.max_output_bytes)
        buffers = {process.stdout.fileno(): bytearray(), process.stderr.fileno(): bytearray()}
        total = 0
        selector = selectors.DefaultSelector()
        for fd in buffers:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        deadline = started + invocation.timeout_s
        term_sent_at: float | None = None
        exited_at: float | None = None
        cancel_checked_at = started

        def stop(reason: str) -> None:
            nonlocal term_sent_at
            if term_sent_at is None:
                term_sent_at = time.monotonic()
                _kill_group(process.pid, signal.SIGTERM)
            if not result.error:
                result.error = reason

        try:
            while True:
                if selector.get_map():
                    ready = selector.select(self.poll_interval_s)
                else:  # the tool closed both pipes: only its exit (or a limit) is left to see
                    ready = []
                    time.sleep(min(self.poll_interval_s, 0.01))
                for key, _events in ready:
                    fd = int(key.fd)
                    try:
                        chunk = os.read(fd, READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        selector.unregister(fd)
                        continue
                    room = cap - total
                    buffers[fd] += chunk[:room] if room > 0 else b""
                    total += len(chunk)
                    if total > cap and not result.output_truncated:
                        result.output_truncated = True
                        stop(f"output exceeded {cap} bytes")
                now = time.monotonic()
                if exited_at is None and _has_exited(process.pid):
                    exited_at = now
                    # The leader is a zombie until reaped, so its pid (= the group id) cannot be
                    # reused: killing the group now reaches only what the tool left behind.
                    _kill_group(process.pid, signal.SIGKILL)
                if exited_at is not None:
                    if not selector.get_map() or now - exited_at > DRAIN_AFTER_EXIT_S:
                        break  # done; or an escaped process (own session) holds a pipe open
                    continue
                if term_sent_at is None and now >= deadline:
                    result.timed_out = True
                    stop(f"timed out after {_seconds(invocation.timeout_s)} s")
                elif term_sent_at is None and now - cancel_checked_at >= self.poll_interval_s:
                    cancel_checked_at = now  # a cancel check may be a database query: not per read
                    if _cancel_requested(invocation):
                        result.cancelled = True
                        stop("cancelled")
                if term_sent_at is not None and now - term_sent_at >= self.kill_grace_s:
                    _kill_group(process.pid, signal.SIGKILL)
        finally:
            selector.close()
        result.exit_code = _exit_code(process.wait())
        result.stdout = bytes(buffers[process.stdout.fileno()])
        result.stderr = bytes(buffers[process.stderr.fileno()])


def _cancel_requested(invocation: ToolInvocation) -> bool:
    return bool(invocation.cancel_check is not None and invocation.cancel_check())


def _has_exited(pid: int) -> bool:
    """True once the process has exited, without reaping it (WNOWAIT keeps the zombie)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None and info.si_pid == pid


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
