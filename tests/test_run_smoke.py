"""`make run`, for real: scripts/run.py on the embedded default (SQLite file, ORM broker) starts
the web server and a worker; /health turns 200 once the worker beats; a sign-up's mail, with the
link that finishes it, is printed in its output; Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
STOP_WITHIN_S = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (children of children included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return 0, {}


def _sign_up(port: int, email: str) -> None:
    """The sign-up form as a browser sends it (its CSRF cookie and token)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    url = f"http://127.0.0.1:{port}/accounts/signup"
    with opener.open(url, timeout=10) as page:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())
    assert found is not None
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": found.group(1), "email": email})
    with opener.open(url, form.encode(), timeout=10) as sent:
        assert sent.url.endswith("/accounts/signup/sent")


def _wait_for_link(output: list[str], port: int) -> str:
    pattern = rf"http://127\.0\.0\.1:{port}/accounts/signup/finish/\S+"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(pattern, "".join(output))
        if found:
            return found.group(0)
        time.sleep(0.3)
    raise AssertionError("no sign-up link in make run's output:\n" + "".join(output))


@pytest.mark.smoke
@pytest.mark.slow
def test_make_run_serves_with_a_live_worker_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "PUBLIC_URL"}
    }
    env.update(
        {
            "PORT": str(port),
            "OUTPOST_VAR_DIR": str(tmp_path / "var"),
            "Q_CLUSTER_NAME": f"outpost-smoke-{port}",
            "ENVIRONMENT": "development",
        }
    )
    runner = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "run.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # like a terminal's foreground job: Ctrl-C goes to this group
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(line.decode(errors="replace") for line in runner.stdout or []),
        daemon=True,
    )
    reader.start()
    tree: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        status: int = 0
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            assert runner.poll() is None, "scripts/run.py exited early:\n" + "".join(output)
            status, body = _health(port)
            if status == 200 and body["checks"]["workers"]["ok"]:
                break
            time.sleep(0.5)
        assert status == 200, f"/health never became 200: {body}\n" + "".join(output)
        assert body["checks"]["workers"]["workers"] >= 1
        assert body["checks"]["database"]["vendor"] == "sqlite"
        assert body["checks"]["broker"]["kind"] == "orm"
        assert (tmp_path / "var" / "outpost.sqlite3").exists()

        tree = _descendants(runner.pid)
        commands = [_cmdline(pid) for pid in tree]
        assert any("runserver" in command for command in commands), commands
        assert any("qcluster" in command for command in commands), commands
        # Links in messages point at the address served, in the web server and the worker.
        for pid in tree:
            if "runserver" in _cmdline(pid) or "qcluster" in _cmdline(pid):
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                assert f"PUBLIC_URL=http://127.0.0.1:{port}".encode() in environ

        # Signing up: the mail, with the link that finishes it, shows in make run's output.
        _sign_up(port, "dev@example.test")
        link = _wait_for_link(output, port)
        with urllib.request.build_opener(urllib.request.HTTPCookieProcessor()).open(
            link, timeout=10
        ) as opened:  # the token moves into the session: the password form
            assert opened.url.endswith("/set-password")
            assert "Set your password" in opened.read().decode()

        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(runner.pid, signal.SIGINT)
        runner.wait(timeout=STOP_WITHIN_S)
        stop_by = time.monotonic() + 2
        while time.monotonic() < stop_by and any(_alive(pid) for pid in tree):
            time.sleep(0.1)
        left = {pid: _cmdline(pid) for pid in tree if _alive(pid)}
        assert left == {}, f"still running after Ctrl-C: {left}"
        assert _health(port)[0] == 0  # nothing answers on the port any more
    finally:
        for pid in {runner.pid, *tree}:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        runner.wait(timeout=10)
        reader.join(timeout=5)

    printed = "".join(output)
    assert f"http://127.0.0.1:{port}/" in printed
    assert f"links in messages: http://127.0.0.1:{port}" in printed
    assert "e-mail:      printed here by the worker" in printed
    assert "stopped" in printed
    assert runner.returncode == 0, printed
