"""Which executor a step gets: settings.SCAN_EXECUTOR, and `auto` deciding by asking Docker."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from scans.engine.executors import forget_auto_decision, get_executor, resolve_executor_name
from scans.engine.executors.local import LocalExecutor


class SilentEngine:
    """A TCP listener on 127.0.0.1 that counts connections and answers nothing useful, standing
    in for a DOCKER_HOST that is not a Docker engine."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
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
def no_docker_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentEngine]:
    engine = SilentEngine()
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{engine.port}")
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
