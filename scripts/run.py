#!/usr/bin/env python
"""`make run`: migrate, then run the web server and one django-q2 worker cluster together.

Ctrl-C (or SIGTERM) stops both; if either dies, the other is stopped too, so nothing is left
half-running. PORT/HOST choose the address (default 127.0.0.1:8000).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def log(message: str) -> None:
    print(f"[outpost] {message}", flush=True)


def manage(*args: str) -> list[str]:
    return [PYTHON, str(ROOT / "manage.py"), *args]


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    shown_host = f"[{host}]" if ":" in host else host
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Links in Slack, Discord, webhook and e-mail messages point at PUBLIC_URL: unless it is
    # set, it is the address this server is about to serve (both the web and the worker,
    # which renders the messages, get it), not a fixed :8000.
    env.setdefault("PUBLIC_URL", f"http://{shown_host}:{port}")
    if os.environ.get("SKIP_MIGRATE", "") != "1":
        log("applying migrations…")
        subprocess.run(manage("migrate", "--noinput"), check=True, env=env, cwd=ROOT)
        subprocess.run(manage("createcachetable"), check=True, env=env, cwd=ROOT)
    children: dict[str, subprocess.Popen[bytes]] = {}
    # Each child gets its own process group, so stopping it also stops its own children
    # (the worker's pool, the server's threads) and a Ctrl-C reaches us once, not thrice.
    children["web"] = subprocess.Popen(
        manage("runserver", f"{host}:{port}", "--noreload"),
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    children["worker"] = subprocess.Popen(
        manage("qcluster"), env=env, cwd=ROOT, start_new_session=True
    )
    log(f"web server:  http://{shown_host}:{port}/   (sign up at /accounts/signup)")
    log(f"API docs:    http://{shown_host}:{port}/api/docs")
    log(f"health:      http://{shown_host}:{port}/health")
    log(f"links in messages: {env['PUBLIC_URL']}  (PUBLIC_URL)")
    if env.get("EMAIL_URL", "console://").startswith("console:"):
        # No mail leaves a development machine: the sign-up link is in the worker's output.
        log("e-mail:      printed here by the worker (the sign-up link is in it)")
    log(f"worker:      django-q2 cluster (pid {children['worker'].pid})")
    log("press Ctrl-C to stop both")

    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                log(f"{name} exited with code {code}; stopping the rest")
                exit_code = code or 1
                stopping = True
                break
        time.sleep(0.3)

    log("stopping web server and worker…")
    # SIGTERM to each child itself, not to its process group: django-q2's cluster stops its
    # pool gracefully on SIGTERM, but a signal to the whole group also kills its sentinel
    # mid-shutdown and leaves the cluster deadlocked waiting for it.
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for name, child in children.items():
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop in time; killing it")
        kill_group(child.pid)  # whatever is left of it (the worker's pool)
        child.wait()
    log("stopped")
    return exit_code


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
        os.killpg(pgid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
