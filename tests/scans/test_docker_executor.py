"""The Docker executor's sandbox, tried for real: a "tool" (busybox sh, from the local test image)
that misbehaves in every way the sandbox must stop, each time with a ToolRun that says why and no
container left behind."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.errors import NotFound

from scans.engine.executors.docker import DockerExecutor, remove_orphans
from scans.engine.runtime import ToolInvocation, ToolRun
from tests.scans.tools.conftest import build_test_images


@pytest.fixture(scope="session")
def test_images() -> dict[str, str]:
    return build_test_images()


@pytest.fixture
def run_label() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def docker_client(require_docker: Any, test_images: dict[str, str]) -> Any:
    return require_docker


@pytest.fixture
def sandbox(
    docker_client: Any,
    test_images: dict[str, str],
    tmp_path: Path,
    run_label: str,
) -> Iterator[Any]:
    """Runs `sh -c SCRIPT` in the busybox image; after the test, no container of this test may
    exist (`docker ps -a --filter label=outpost.managed=1`, narrowed to this test's label)."""
    executor = DockerExecutor(docker_client)
    made = {"n": 0}

    def run(script: str, **options: Any) -> ToolRun:
        made["n"] += 1
        invocation = ToolInvocation(
            argv=["sh", "-c", script],
            timeout_s=options.pop("timeout_s", 30),
            workdir=tmp_path / f"run-{made['n']}",
            image=options.pop("image", test_images["busybox"]),
            labels={"outpost.step": "1", "outpost.test": run_label},
            **options,
        )
        return executor.run(invocation)

    yield run
    left = docker_client.containers.list(
        all=True, filters={"label": ["outpost.managed=1", f"outpost.test={run_label}"]}
    )
    assert left == [], f"containers left behind: {[c.id[:12] for c in left]}"


def test_the_tool_runs_as_an_unprivileged_user_without_capabilities(sandbox: Any) -> None:
    run = sandbox("id -u; id -g; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")

    assert run.ok, run.stderr
    lines = run.stdout.decode().split()
    assert lines[:2] == ["65534", "65534"]
    assert "0000000000000000" in lines  # CapEff: no capability at all
    assert lines[-2:] == ["NoNewPrivs:", "1"]


def test_the_root_filesystem_is_read_only(sandbox: Any) -> None:
    run = sandbox("echo pwned > /pwned")

    assert run.exit_code != 0
    assert b"Read-only file system" in run.stderr


def test_the_tool_writes_to_output_and_tmp_and_reads_its_inputs_read_only(
    sandbox: Any, tmp_path: Path
) -> None:
    data = tmp_path / "targets.txt"
    data.write_text("127.0.0.1\n")

    run = sandbox(
        "cat /input/targets.txt > /output/copy.txt && echo scratch > /tmp/x && cat /tmp/x"
        " && (echo no > /input/targets.txt || echo input-is-read-only)",
        input_files={"targets.txt": data},
    )

    assert run.ok, run.stderr
    assert run.output_dir is not None
    assert (run.output_dir / "copy.txt").read_text() == "127.0.0.1\n"
    assert run.stdout.decode().split() == ["scratch", "input-is-read-only"]
    assert data.read_text() == "127.0.0.1\n"


def test_a_tool_without_network_sees_only_loopback(sandbox: Any) -> None:
    run = sandbox("ls /sys/class/net", network="none")

    assert run.stdout.decode().split() == ["lo"]


def test_a_tool_silent_for_longer_than_the_clients_read_timeout_keeps_its_output(
    test_images: dict[str, str], tmp_path: Path, run_label: str, docker_client: Any
) -> None:
    import docker

    executor = DockerExecutor(docker.from_env(timeout=2))  # every API call times out after 2 s

    run = executor.run(
        ToolInvocation(
            argv=["sh", "-c", "sleep 4; echo done; echo late >&2"],
            timeout_s=30,
            workdir=tmp_path / "silent",
            image=test_images["busybox"],
            labels={"outpost.step": "1", "outpost.test": run_label},
        )
    )

    assert run.ok, run.error
    assert (run.stdout, run.stderr) == (b"done\n", b"late\n")


def test_it_kills_a_tool_past_the_memory_limit_and_says_so(sandbox: Any) -> None:
    run = sandbox("a=xxxxxxxxxxxxxxxx; while :; do a=$a$a; done", memory_mb=32)

    assert not run.ok
    assert run.error == "killed: memory limit of 32 MB exceeded"


def test_a_fork_bomb_stops_at_the_pids_limit_and_the_run_says_so(sandbox: Any) -> None:
    run = sandbox("i=0; while [ $i -lt 500 ]; do sleep 30 & i=$((i+1)); done; wait", pids_limit=32)

    assert not run.ok
    assert "process limit of 32 reached" in run.error
    assert b"can't fork" in run.stderr


def test_it_kills_a_tool_past_its_timeout(sandbox: Any) -> None:
    started = time.monotonic()

    run = sandbox("sleep 60", timeout_s=1.5)

    assert run.timed_out and not run.ok
    assert run.error == "timed out after 1.5 s"
    assert time.monotonic() - started < 20


def test_it_stops_a_tool_that_prints_past_the_output_cap(sandbox: Any) -> None:
    run = sandbox("head -c 104857600 /dev/zero", max_output_bytes=1024 * 1024)  # 100 MB

    assert run.output_truncated and not run.ok
    assert len(run.stdout) == 1024 * 1024
    assert run.error.startswith("output exceeded 1048576 bytes")


def test_a_cancel_stops_the_tool(sandbox: Any) -> None:
    deadline = time.monotonic() + 1.0

    run = sandbox("sleep 60", cancel_check=lambda: time.monotonic() > deadline)

    assert run.cancelled and run.error == "cancelled"
    assert run.duration_ms < 20_000


def test_it_records_the_image_and_its_id(
    sandbox: Any, docker_client: Any, test_images: dict[str, str]
) -> None:
    run = sandbox("true")

    assert run.image == test_images["busybox"]
    assert run.image_digest == docker_client.images.get(test_images["busybox"]).id
    assert run.executor == "docker" and run.exit_code == 0


def test_an_image_that_is_not_there_gives_a_clear_error(sandbox: Any) -> None:
    run = sandbox("true", image="outpost-test/does-not-exist:1")

    assert not run.ok and run.exit_code is None
    assert run.error.startswith(
        "image outpost-test/does-not-exist:1 is not available locally and cannot be pulled: "
    )


def test_remove_orphans_removes_containers_of_steps_that_no_longer_run(
    docker_client: Any,
    test_images: dict[str, str],
    run_label: str,
) -> None:
    def container(step: str) -> Any:
        return docker_client.containers.create(
            test_images["busybox"],
            command=["sleep", "60"],
            labels={
                "outpost.managed": "1",
                "outpost.step": step,
                "outpost.test": run_label,
                "outpost.deployment": run_label,
            },
        )

    orphan, running = container("900001"), container("900002")
    try:
        removed = remove_orphans({900002}, deployment=run_label)

        left = {
            c.id
            for c in docker_client.containers.list(
                all=True, filters={"label": f"outpost.test={run_label}"}
            )
        }
        assert removed == 1
        assert left == {running.id}
        assert remove_orphans({900002}, deployment=run_label, max_age_s=0) in {0, 1}
    finally:
        for made in (orphan, running):
            with contextlib.suppress(NotFound):  # already removed by the test
                made.remove(force=True)


@pytest.fixture
def cache_volume(docker_client: Any, run_label: str) -> Iterator[str]:
    name = f"outpost-test-cache-{run_label}"
    yield name
    with contextlib.suppress(NotFound):
        docker_client.volumes.get(name).remove(force=True)


def test_a_tool_cache_is_kept_between_runs_for_the_sandbox_user_and_that_tool_only(
    sandbox: Any, cache_volume: str, test_images: dict[str, str], docker_client: Any
) -> None:
    cache = {"cache_volume": cache_volume, "cache_init_image": test_images["busybox"]}

    first = sandbox(
        'id -u; echo "$XDG_CACHE_HOME"; mkdir -p "$XDG_CACHE_HOME/db" '
        '&& echo v2 > "$XDG_CACHE_HOME/db/metadata" && stat -c "%u %a" /cache',
        **cache,
    )
    assert first.ok, (first.stderr, first.notes)
    assert first.stdout.decode().split() == ["65534", "/cache", "65534", "755"]
    assert first.notes == []

    again = sandbox("cat /cache/db/metadata; echo x > /pwned", **cache)
    assert again.stdout.decode().strip() == "v2"  # the download of the first run is there
    assert b"Read-only file system" in again.stderr  # and the rest of the sandbox is as before

    other_tool = sandbox("ls /cache; echo home=$XDG_CACHE_HOME")
    assert b"No such file or directory" in other_tool.stderr
    assert other_tool.stdout.decode().strip() == "home="

    volume = docker_client.volumes.get(cache_volume)
    assert volume.attrs["Labels"] == {"outpost.cache": "1"}


def test_a_cache_that_cannot_be_prepared_leaves_the_tool_running_without_one(
    sandbox: Any, cache_volume: str
) -> None:
    started = time.monotonic()
    run = sandbox(
        'echo "cache=$XDG_CACHE_HOME"; ls /cache',
        cache_volume=cache_volume,
        cache_init_image="outpost-test/not-built:0",
    )

    assert run.stdout.decode().strip() == "cache="
    assert b"No such file or directory" in run.stderr
    assert len(run.notes) == 1
    assert run.notes[0].startswith(f"tool cache {cache_volume} unavailable, running without it:")
    assert "outpost-test/not-built:0" in run.notes[0]
    # Not tried again at every run: the next one says so at once.
    again = sandbox("true", cache_volume=cache_volume, cache_init_image="outpost-test/not-built:0")
    assert again.ok and again.notes == run.notes
    assert time.monotonic() - started < 20
