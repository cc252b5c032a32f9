"""gobuster in its container (the local test image from Debian's gobuster, host network) with
the bundled wordlist: against a local app with hidden paths and real 404s it finds them; against
apps that answer every other path (a fixed page, or a soft 404 echoing the path, both HTTP 200) it
runs only because the worker calibrates first, finds the hidden paths and reports none of the
catch-all's answers. Uncalibrated, gobuster refuses such a server, which is why calibration is
there."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from scans.engine.executors.docker import DockerExecutor
from scans.tools import gobuster
from scans.tools.kit.web_fetch import Page
from targets.items import Item
from tests.recon_app import HIDDEN_PATHS, ReconApp

HIDDEN = {"/admin": 401, "/backup": 200, "/server-status": 403, "/uploads": 301}
FIXED_PAGE = b"<html><body><h1>Welcome</h1><p>Nothing to see.</p></body></html>"


def _app(missing: Callable[[str], tuple[int, bytes]]) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path in HIDDEN:
                status, body = HIDDEN[path], f"<html>{path[1:]} lives here</html>".encode()
            else:
                status, body = missing(path)
            self.send_response(status)
            if status == 301:
                self.send_header("Location", f"{path}/")
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def plain_app() -> Iterator[str]:
    yield from _app(lambda path: (404, b"<html>not found</html>"))


@pytest.fixture
def fixed_catch_all_app() -> Iterator[str]:
    yield from _app(lambda path: (200, FIXED_PAGE))


def _run(ctx_factory: Any, url: str, **config: Any) -> Any:
    ctx = ctx_factory(
        config={"threads": 10, **config},
        items=[Item("url", url)],
        executor=DockerExecutor(),
        timeout_s=300,
    )
    return gobuster.run(ctx)


def _found(result: Any) -> dict[str, int]:
    return {urlsplit(item.value).path: item.attrs["status"] for item in result.items}


def test_gobuster_finds_the_hidden_paths_of_an_app_with_real_404s(
    tool_images_settings: dict[str, str], step_context: Any, plain_app: str
) -> None:
    result = _run(step_context, plain_app)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert run.executor == "docker" and run.image == tool_images_settings["gobuster"]
    assert run.argv[:4] == ["gobuster", "dir", "-u", plain_app]
    assert "--exclude-length" not in run.argv  # nothing to calibrate away
    assert _found(result) == HIDDEN
    assert {f.rule_id for f in result.findings} == {"discovered-path"}
    assert [p.name for p in result.artifacts] == ["gobuster-1.txt"]


def test_gobuster_leaves_out_a_fixed_catch_all_page(
    tool_images_settings: dict[str, str], step_context: Any, fixed_catch_all_app: str
) -> None:
    result = _run(step_context, fixed_catch_all_app)

    assert result.error == "", step_context.logs
    [run] = result.runs
    excluded = run.argv[run.argv.index("--exclude-length") + 1]
    assert excluded == str(len(FIXED_PAGE))
    assert _found(result) == HIDDEN
    assert any("catch-all HTTP 200 (a fixed page)" in line for line in step_context.logs)


def test_gobuster_leaves_out_a_soft_404_that_echoes_the_path(
    tool_images_settings: dict[str, str], step_context: Any, recon_app: ReconApp
) -> None:
    result = _run(step_context, recon_app.url)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert "--exclude-length" in run.argv
    found = _found(result)
    for path, status in HIDDEN_PATHS.items():
        assert found.get(path) == status, (path, sorted(found))
    assert len(found) < 20, sorted(found)  # the soft-404 answers were left out
    assert any("catch-all HTTP 200 (a page echoing the path)" in line for line in step_context.logs)
    assert any("answers like the catch-all left out" in line for line in step_context.logs)
    assert len(recon_app.app.requests) > 4000  # the whole bundled wordlist, for real


def test_uncalibrated_gobuster_refuses_a_server_that_answers_every_path(
    tool_images_settings: dict[str, str], step_context: Any, fixed_catch_all_app: str
) -> None:
    result = _run(step_context, fixed_catch_all_app, calibrate=False)

    assert "matches the provided options for non existing urls" in result.error
    assert result.items == []


def _page(path: str, status: int, length: int) -> tuple[str, Page]:
    return path, Page(url=f"http://h/{path}", status=status, length=length)


def test_the_calibration_tells_a_fixed_page_from_one_echoing_the_path() -> None:
    reported = {200, 301, 403}

    fixed = gobuster.catch_all([_page("a" * 12, 200, 90), _page("b" * 20, 200, 90)], reported)
    echo = gobuster.catch_all([_page("a" * 12, 200, 50), _page("b" * 20, 200, 58)], reported)
    varying = gobuster.catch_all([_page("a" * 12, 200, 50), _page("b" * 20, 200, 97)], reported)
    real_404 = gobuster.catch_all([_page("a" * 12, 404, 9), _page("b" * 20, 404, 9)], reported)

    assert fixed == gobuster.CatchAll(200, 90, echoes_path=False)
    assert echo == gobuster.CatchAll(200, 38, echoes_path=True)
    assert varying == {200}
    assert real_404 is None


def test_a_report_is_read_without_the_catch_alls_lines_only() -> None:
    catch_all = gobuster.CatchAll(200, 36, echoes_path=True)
    report = (
        b"backup               (Status: 200) [Size: 42]\n"  # 36 + len("backup"): the soft 404
        b"admin                (Status: 401) [Size: 41]\n"  # 36 + 5, but another status
        b"phpinfo.php          (Status: 200) [Size: 120]\n"
    )

    kept, dropped = gobuster.without_catch_all(report, catch_all)

    assert dropped == 1
    parsed = gobuster.parse(kept, subject="http://127.0.0.1:8000/")
    assert [item.value for item in parsed.items] == [
        "http://127.0.0.1:8000/admin",
        "http://127.0.0.1:8000/phpinfo.php",
    ]
