"""The local Docker engine reached over TCP, as a worker reaches a remote engine
(`DOCKER_HOST=tcp://…`): a relay on 127.0.0.1 to the engine's unix socket."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator

import pytest


def relay_pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def relay_serve(
    listener: socket.socket,
    upstream: str | Callable[[], socket.socket],
    opened: list[socket.socket] | None = None,
) -> None:
    """Accept connections on `listener` and relay each to `upstream` (a unix socket path, or a
    function opening the far end), in threads of their own; ends when the listener is closed.
    Both ends of every relayed connection are added to `opened` (to close them at teardown)."""

    def connect() -> socket.socket:
        if callable(upstream):
            return upstream()
        far = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        far.connect(upstream)
        return far

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                far = connect()
            except OSError:
                client.close()
                continue
            if opened is not None:
                opened.extend((client, far))
            for a, b in ((client, far), (far, client)):
                threading.Thread(target=relay_pipe, args=(a, b), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


class EngineRelay:
    def __init__(self, engine_socket: str, host: str = "127.0.0.1") -> None:
        self.listener = socket.create_server((host, 0))
        self.url = f"tcp://{host}:{self.listener.getsockname()[1]}"
        relay_serve(self.listener, engine_socket)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def engine_over_tcp(require_docker: object) -> Iterator[EngineRelay]:
    engine = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not engine.startswith("unix://"):
        pytest.skip("the relay stands in for a unix-socket engine only")
    relay = EngineRelay(engine.removeprefix("unix://"))
    yield relay
    relay.close()
