"""Which executor a step gets: settings.SCAN_EXECUTOR, and `auto` deciding by asking Docker."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from scans.engine import executors
from scans.engine.executors import forget_auto_decision, get_executor, resolve_executor_name
from scans.engine.executors.docker import DockerExecutor
from scans.engine.executors.local import LocalExecutor
from scans.engine.runtime import ToolInvocation


class SilentEngine:
    """A unix socket that counts connections and answers nothing useful, standing in for a local
    Docker socket that is not an engine."""

    def __init__(self, path: Path) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(16)
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def no_docker_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SilentEngine]:
    """No DOCKER_HOST, and the local socket is not an engine."""
    engine = SilentEngine(tmp_path / "docker.sock")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(executors, "LOCAL_ENGINE_SOCKET", str(tmp_path / "docker.sock"))
    forget_auto_decision()
    yield engine
    forget_auto_decision()
    engine.close()


@pytest.mark.smoke
def test_it_gives_the_local_executor_when_settings_say_local(settings: Any) -> None:
    settings.SCAN_EXECUTOR = "local"

    executor = get_executor()

    assert isinstance(executor, LocalExecutor)
    assert executor.name == "local"


def test_it_refuses_an_unknown_executor_name() -> None:
    with pytest.raises(ImproperlyConfigured, match="unknown executor 'podman'"):
        get_executor("podman")


@pytest.mark.smoke
def test_auto_falls_back_to_local_when_no_docker_engine_answers(
    settings: Any, no_docker_engine: SilentEngine
) -> None:
    settings.SCAN_EXECUTOR = "auto"

    assert resolve_executor_name() == "local"
    assert no_docker_engine.connections >= 1  # it did ask
    assert isinstance(get_executor(), LocalExecutor)


def test_auto_remembers_its_decision_instead_of_asking_docker_every_step(
    settings: Any, no_docker_engine: SilentEngine
) -> None:
    settings.SCAN_EXECUTOR = "auto"
    resolve_executor_name()
    asked = no_docker_engine.connections

    for _ in range(5):
        assert resolve_executor_name() == "local"

    assert no_docker_engine.connections == asked
    forget_auto_decision()
    resolve_executor_name()
    assert no_docker_engine.connections > asked


def test_auto_with_a_configured_engine_never_falls_back_to_the_local_executor(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The outside check: with DOCKER_HOST=ssh://… and no ssh support, `auto` silently ran the
    tools on the worker. A configured engine that cannot be reached fails the step instead."""
    settings.SCAN_EXECUTOR = "auto"
    forget_auto_decision()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'nothing-here.sock'}")

    assert resolve_executor_name() == "docker"
    executor = get_executor()
    assert isinstance(executor, DockerExecutor)
    run = executor.run(
        ToolInvocation(argv=["true"], timeout_s=5, workdir=tmp_path / "run", image="busybox:1")
    )
    assert not run.ok
    assert run.error.startswith("docker engine error:")
