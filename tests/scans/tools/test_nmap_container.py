"""nmap in its container (the local test image, host network) finds a real HTTP server on
127.0.0.1, through the adapter's run() and the Docker executor, as a workflow step would."""

from __future__ import annotations

from typing import Any

from scans.engine.executors.docker import DockerExecutor
from scans.tools import nmap
from targets.items import Item


def test_nmap_in_its_container_finds_the_local_http_server(
    tool_images_settings: dict[str, str], step_context: Any, http_server: Any
) -> None:
    ctx = step_context(
        config={"ports": str(http_server.port), "timing": "aggressive"},
        items=[Item("host", "127.0.0.1")],
        executor=DockerExecutor(),
        timeout_s=120,
    )

    result = nmap.run(ctx)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert run.executor == "docker" and run.image == tool_images_settings["nmap"]
    assert run.argv[-2:] == ["--", "127.0.0.1"]
    service = Item.service("127.0.0.1", http_server.port)
    assert service in result.items
    found = result.items[result.items.index(service)]
    assert found.attrs["service"] == "http"
    assert found.attrs["product"]  # -sV read the server's banner (Python's http.server)
    [open_port] = [f for f in result.findings if f.rule_id == "open-port"]
    assert open_port.location == service.value
    assert [p.name for p in result.artifacts] == ["nmap-1.xml"]


def test_nmap_reports_a_closed_port_as_nothing_open(
    tool_images_settings: dict[str, str], step_context: Any, http_server: Any
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: connections are refused
        ctx = step_context(
            config={"ports": str(closed), "version_detection": False},
            items=[Item("host", "127.0.0.1")],
            executor=DockerExecutor(),
        )

        result = nmap.run(ctx)

    assert result.error == ""
    assert result.items == [] and result.findings == []
