"""Remote Docker engines: over TCP with TLS client certificates and over ssh (paramiko), a tool
run gets its input and returns its output (no folder shared with the engine); a worker that
cannot reach its configured engine fails the step with the reason instead of falling back to the
local executor. The outside check: `ssh://` hosts failed (paramiko missing) although the docs
said they work, and `SCAN_EXECUTOR=auto` silently ran the tools on the worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scans.engine.executors import forget_auto_decision, get_executor
from scans.engine.executors.docker import DockerExecutor
from scans.engine.runtime import ToolInvocation, ToolRun
from tests.remote_engines import RemoteEngine
from tests.scans.tools.conftest import build_test_images


def _run_through(engine: RemoteEngine, monkeypatch: pytest.MonkeyPatch, settings: Any) -> ToolRun:
    image = build_test_images()["busybox"]  # built through the local socket, before switching
    for name, value in engine.env.items():
        monkeypatch.setenv(name, value)
    settings.SCAN_EXECUTOR = "auto"
    forget_auto_decision()
    executor = get_executor()
    assert isinstance(executor, DockerExecutor)
    work = engine.folder / "work"
    (work / "in").mkdir(parents=True)
    (work / "in" / "hosts.txt").write_text("127.0.0.1\n")
    return executor.run(
        ToolInvocation(
            argv=["sh", "-c", "wc -l < /input/hosts.txt > /output/count.txt; echo done"],
            timeout_s=60, workdir=work / "run", image=image, stager_image=image,
            input_files={"hosts.txt": work / "in" / "hosts.txt"},
            labels={"outpost.step": "1", "outpost.test": "remote-engine"},
        )
    )  # fmt: skip


def test_a_tool_runs_on_an_engine_reached_over_tls_with_client_certificates(
    tls_engine: RemoteEngine, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    run = _run_through(tls_engine, monkeypatch, settings)

    assert run.ok, run.error
    assert run.stdout == b"done\n"
    assert (Path(run.output_dir or "") / "count.txt").read_text().strip() == "1"


def test_an_engine_refusing_the_workers_certificate_fails_the_step_with_the_reason(
    tls_engine: RemoteEngine, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    certs = Path(tls_engine.env["DOCKER_CERT_PATH"])
    (certs / "cert.pem").write_bytes((certs / "ca.pem").read_bytes())  # not a client certificate

    run = _run_through(tls_engine, monkeypatch, settings)

    assert not run.ok
    assert run.error.startswith("docker engine error:"), run.error
    assert run.executor == "docker"  # never the local executor


def test_a_tool_runs_on_an_engine_reached_over_ssh(
    ssh_engine: RemoteEngine, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    run = _run_through(ssh_engine, monkeypatch, settings)

    assert run.ok, run.error
    assert (Path(run.output_dir or "") / "count.txt").read_text().strip() == "1"


def test_an_ssh_engine_with_an_unknown_host_key_fails_the_step_with_the_reason(
    ssh_engine: RemoteEngine, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    (Path(ssh_engine.env["HOME"]) / ".ssh" / "known_hosts").write_text("")

    run = _run_through(ssh_engine, monkeypatch, settings)

    assert not run.ok
    assert "docker engine error" in run.error and "127.0.0.1" in run.error, run.error
