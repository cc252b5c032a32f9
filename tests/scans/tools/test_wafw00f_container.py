"""wafw00f in its container (the local test image from Debian's wafw00f and Python, host network)
against two real local servers: one answering like an app behind Cloudflare (its `Server` and
`cf-ray` headers), one plain: the first URL gets its WAF and a finding, the second neither."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from scans.engine.executors.docker import DockerExecutor
from scans.tools import wafw00f
from targets.items import Item


def _server(headers: dict[str, str]) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><title>shop</title><p>welcome</p></html>"
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def sites() -> Iterator[tuple[str, str]]:
    guarded = _server({"Server": "cloudflare", "cf-ray": "8c1f2a3b4d5e6f70-AMS"})
    plain = _server({"Server": "nginx"})
    yield tuple(f"http://127.0.0.1:{s.server_address[1]}/" for s in (guarded, plain))  # type: ignore[misc]
    for server in (guarded, plain):
        server.shutdown()
        server.server_close()


def test_wafw00f_in_its_container_names_the_waf_in_front_of_an_app(
    tool_images_settings: dict[str, str], step_context: Any, sites: tuple[str, str]
) -> None:
    guarded, plain = sites
    ctx = step_context(
        items=[Item("url", guarded), Item("url", plain)],
        executor=DockerExecutor(),
        timeout_s=240,
    )

    result = wafw00f.run(ctx)

    assert result.error == "", step_context.logs
    assert [r.image for r in result.runs] == [tool_images_settings["wafw00f"]] * 2
    assert all(r.argv[:2] == ["wafw00f", "-r"] for r in result.runs)
    items = {item.value: item.attrs for item in result.items}
    assert "Cloudflare" in items[guarded]["waf"]
    assert not items.get(plain, {}).get("waf")
    [finding] = result.findings
    assert finding.rule_id == "waf-detected" and finding.location == guarded
    assert finding.severity == "info" and "Cloudflare" in finding.title


def test_the_parser_refuses_what_is_not_a_wafw00f_report() -> None:
    with pytest.raises(ValueError, match="not a wafw00f report"):
        wafw00f.parse(b'{"results": []}')
    assert wafw00f.parse(b"[]").items == []
