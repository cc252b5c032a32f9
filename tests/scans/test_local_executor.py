"""The local executor: argv only, limits, timeouts, output cap, cancellation, cleanup."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from scans.engine.executors.local import LocalExecutor
from scans.engine.runtime import ToolInvocation


def invocation(tmp_path: Path, argv: list[str], **options: object) -> ToolInvocation:
    options.setdefault("timeout_s", 30)
    return ToolInvocation(argv=argv, workdir=tmp_path / "work", **options)  # type: ignore[arg-type]


def process_state(pid: int) -> str:
    """The kernel's state letter for pid ("" when it is gone); Z is a dead, unreaped process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[0]


def live_members_of_group(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            members.append(int(entry))
    return members


def members_left_in_group(pgid: int, within_s: float = 2.0) -> list[int]:
    """The group's live members once SIGKILL has had `within_s` to land (the signal is sent when
    run() returns; a member dies a moment later, which a check at once raced)."""
    deadline = time.monotonic() + within_s
    while (members := live_members_of_group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return members


def wait_until_gone(pids: list[int], within_s: float = 3.0) -> list[int]:
    deadline = time.monotonic() + within_s
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if process_state(pid) not in {"", "Z", "X"}]
        time.sleep(0.05)
    return alive


@pytest.mark.smoke
def test_it_passes_shell_metacharacters_to_the_tool_literally(tmp_path: Path) -> None:
    run = LocalExecutor().run(invocation(tmp_path, ["echo", "$(id); rm -rf /"]))

    assert run.ok
    assert run.stdout == b"$(id); rm -rf /\n"
    assert run.executor == "local"
    assert run.argv == ["echo", "$(id); rm -rf /"]


@pytest.mark.smoke
def test_it_runs_in_the_workdir_with_an_almost_empty_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTPOST_TEST_SECRET", "do-not-leak")
    run = LocalExecutor().run(
        invocation(tmp_path, ["sh", "-c", "pwd; env"], env={"TOOL_OPTION": "on"})
    )

    lines = run.stdout.decode().splitlines()
    assert lines[0] == str(tmp_path / "work")
    env = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert "OUTPOST_TEST_SECRET" not in env
    assert env["TOOL_OPTION"] == "on"
    assert env["OUTPUT_DIR"] == str(tmp_path / "work" / "output")
    assert run.output_dir == tmp_path / "work" / "output"
    assert run.output_dir.is_dir()


@pytest.mark.smoke
def test_it_reports_the_tools_exit_code(tmp_path: Path) -> None:
    run = LocalExecutor().run(invocation(tmp_path, ["sh", "-c", "echo oops >&2; exit 3"]))

    assert run.exit_code == 3
    assert run.stderr == b"oops\n"
    assert not run.ok
    assert run.error == ""


def test_it_says_why_a_missing_program_did_not_start(tmp_path: Path) -> None:
    run = LocalExecutor().run(invocation(tmp_path, ["outpost-no-such-tool", "--version"]))

    assert run.exit_code is None
    assert run.error.startswith("cannot start outpost-no-such-tool")
    assert not run.ok


@pytest.mark.smoke
def test_it_kills_a_tool_past_its_timeout_and_its_children(tmp_path: Path) -> None:
    started = time.monotonic()
    run = LocalExecutor().run(
        invocation(
            tmp_path,
            ["sh", "-c", "echo $$ > group.pid; sleep 100 & echo $! > child.pid; sleep 100"],
            timeout_s=1,
        )
    )
    elapsed = time.monotonic() - started

    assert run.timed_out
    assert run.error == "timed out after 1 s"
    assert run.exit_code == 128 + 15  # SIGTERM was enough for sh and its sleeps
    assert not run.ok
    assert 0.9 < elapsed < 4
    group = int((tmp_path / "work" / "group.pid").read_text())
    child = int((tmp_path / "work" / "child.pid").read_text())
    assert wait_until_gone([child]) == []
    assert members_left_in_group(group) == []


def test_it_kills_a_tool_that_ignores_sigterm_after_the_grace_period(tmp_path: Path) -> None:
    started = time.monotonic()
    run = LocalExecutor(kill_grace_s=0.5).run(
        invocation(
            tmp_path,
            ["sh", "-c", "trap '' TERM; echo $$ > group.pid; sleep 100; sleep 100"],
            timeout_s=1,
        )
    )

    assert run.timed_out
    assert run.exit_code == 128 + 9
    assert time.monotonic() - started < 4
    assert members_left_in_group(int((tmp_path / "work" / "group.pid").read_text())) == []


@pytest.mark.smoke
def test_it_kills_what_a_tool_leaves_running_when_it_exits(tmp_path: Path) -> None:
    started = time.monotonic()
    run = LocalExecutor().run(invocation(tmp_path, ["sh", "-c", "sleep 100 & echo $!"]))

    child = int(run.stdout.decode())
    assert run.ok
    assert time.monotonic() - started < 3  # the sleeping child held stdout open: not waited for
    assert wait_until_gone([child]) == []


@pytest.mark.smoke
def test_it_stops_a_tool_whose_output_passes_the_cap(tmp_path: Path) -> None:
    run = LocalExecutor().run(invocation(tmp_path, ["yes", "outpost"], max_output_bytes=10_000))

    assert run.output_truncated
    assert run.error == "output exceeded 10000 bytes"
    assert len(run.stdout) + len(run.stderr) == 10_000
    assert run.stdout.startswith(b"outpost\noutpost\n")
    assert not run.ok


def test_it_keeps_all_output_below_the_cap(tmp_path: Path) -> None:
    script = "import sys; sys.stdout.write('o' * 300000); sys.stderr.write('e' * 200000)"
    run = LocalExecutor().run(
        invocation(tmp_path, [sys.executable, "-c", script], max_output_bytes=600_000)
    )

    assert run.ok
    assert run.stdout == b"o" * 300_000
    assert run.stderr == b"e" * 200_000
    assert not run.output_truncated


@pytest.mark.smoke
def test_it_stops_a_tool_when_the_scan_is_cancelled(tmp_path: Path) -> None:
    cancel_at = time.monotonic() + 0.5
    started = time.monotonic()
    run = LocalExecutor().run(
        invocation(tmp_path, ["sleep", "30"], cancel_check=lambda: time.monotonic() > cancel_at)
    )

    assert run.cancelled
    assert run.error == "cancelled"
    assert not run.timed_out
    assert time.monotonic() - started < 3


def test_it_stops_a_tool_that_allocates_more_than_its_memory_limit(tmp_path: Path) -> None:
    allocate = "import sys; b = bytearray(int(sys.argv[1]) * 1024 * 1024); print(len(b))"
    small = LocalExecutor().run(
        invocation(tmp_path, [sys.executable, "-c", allocate, "32"], memory_mb=256)
    )
    large = LocalExecutor().run(
        invocation(tmp_path, [sys.executable, "-c", allocate, "2048"], memory_mb=256)
    )

    assert small.ok, small.stderr  # the limit leaves room for a normal run
    assert large.exit_code != 0
    assert b"MemoryError" in large.stderr


def test_it_limits_the_size_of_files_a_tool_writes(tmp_path: Path) -> None:
    write = "open('output/big', 'wb').write(b'x' * 200000)"
    run = LocalExecutor().run(
        invocation(tmp_path, [sys.executable, "-c", write], max_output_bytes=100_000)
    )

    assert run.exit_code != 0  # SIGXFSZ or an OSError, depending on the signal disposition
    assert (tmp_path / "work" / "output" / "big").stat().st_size <= 100_000


def test_it_does_not_start_a_tool_for_a_scan_already_cancelled(tmp_path: Path) -> None:
    run = LocalExecutor().run(
        invocation(tmp_path, ["sh", "-c", "touch started"], cancel_check=lambda: True)
    )

    assert run.cancelled and run.error == "cancelled"
    assert run.exit_code is None
    assert not (tmp_path / "work" / "started").exists()
