"""A small web app on 127.0.0.1 for the web-mapping tests (crawler, content discovery, the recon
templates): linked pages, a script with API paths, robots.txt and a sitemap naming unlinked
paths, a login form, hidden paths only a wordlist finds, a soft-404 catch-all, and links to
another host and another origin. It records every request it gets (path and Host header), so a
test can prove what was never fetched. Registered for the suite in tests/conftest.py."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

HIDDEN_PATHS = {"/admin": 401, "/.git/HEAD": 200, "/config": 403, "/phpinfo.php": 200}
LINKED_PATHS = {"/", "/about", "/team", "/products", "/static/app.js", "/login"}
FROM_SCRIPTS = {"/api/v1/status", "/api/v2/orders", "/internal/health"}
FROM_ROBOTS = {"/backup-2024/", "/hidden-from-nav"}


@dataclass
class RecordingServer:
    port: int
    requests: list[tuple[str, str]] = field(default_factory=list)  # (Host header, path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def paths(self) -> list[str]:
        return [path for _, path in self.requests]


@dataclass
class ReconApp:
    app: RecordingServer
    other: RecordingServer  # another origin (and, named `localhost`, another host)

    @property
    def url(self) -> str:
        return self.app.url


def _pages(port: int, other_port: int) -> dict[str, tuple[int, str, str]]:
    html = "text/html; charset=utf-8"
    return {
        "/": (200, html, f"""<!doctype html><html><head><title>Recon lab</title>
<script src="/static/app.js"></script></head><body><h1>Recon lab</h1>
<img src="http://127.0.0.1:{other_port}/pixel.png" alt="">
<img src="http://localhost:{other_port}/logo.png" alt="">
<a href="/about">About</a> <a href="/products?id=3&amp;sort=price">Products</a>
<a href="mailto:ops@corp.outpost.test">mail</a> <a href="javascript:void(0)">x</a>
<a href="http://localhost:{other_port}/secret">partner</a>
<a href="http://127.0.0.1:{other_port}/other-origin">other origin</a>
<form action="/login" method="post"><input name="user"><input name="password" type="password">
<button name="go">Sign in</button></form>
<script>fetch('/api/v1/status').then(r => r.json());</script></body></html>"""),
        "/about": (200, html, '<html><title>About</title><a href="/team#people">Team</a></html>'),
        "/team": (200, html, "<html><title>Team</title><p>us</p></html>"),
        "/products": (200, html, "<html><title>Products</title></html>"),
        "/login": (200, html, "<html><title>Sign in</title></html>"),
        "/static/app.js": (200, "application/javascript",
                           'const orders = "/api/v2/orders";\nfetch(`/internal/health`);\n'),
        "/api/v1/status": (200, "application/json", '{"ok": true}'),
        "/api/v2/orders": (401, "application/json", '{"error": "auth"}'),
        "/internal/health": (200, "text/plain", "ok"),
        "/robots.txt": (200, "text/plain",
                        "User-agent: *\nDisallow: /backup-2024/\nSitemap: /sitemap.xml\n"),
        "/sitemap.xml": (200, "application/xml",
                         '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                         f'sitemap/0.9"><url><loc>http://127.0.0.1:{port}/hidden-from-nav</loc>'
                         "</url></urlset>"),
        "/backup-2024/": (403, html, "<html><title>Forbidden</title></html>"),
        "/hidden-from-nav": (200, html, "<html><title>Unlisted</title></html>"),
        "/admin": (401, html, "<html><title>Admin</title>auth required</html>"),
        "/.git/HEAD": (200, "text/plain", "ref: refs/heads/main\n"),
        "/config": (403, html, "<html><title>Forbidden config</title></html>"),
        "/phpinfo.php": (200, html, "<html><title>phpinfo()</title><h1>PHP Version 8.2.7</h1>"
                         "<table><tr><td>System</td><td>Linux lab 6.1</td></tr></table></html>"),
    }  # fmt: skip


def _serve(pages: Any, record: RecordingServer) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes

        def do_GET(self) -> None:
            record.requests.append((self.headers.get("Host", ""), self.path))
            path = self.path.split("?")[0]
            status, kind, body = pages(record.port).get(path) or (
                200,
                "text/html",
                f"<html><p>Page {path} not found</p></html>",
            )  # a soft 404: 200 for every other path, its size varies with the path
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    record.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def recon_app() -> Iterator[ReconApp]:
    other = RecordingServer(0)
    app = RecordingServer(0)
    other_server = _serve(lambda _port: {}, other)
    app_server = _serve(lambda port: _pages(port, other.port), app)
    yield ReconApp(app=app, other=other)
    for server in (app_server, other_server):
        server.shutdown()
        server.server_close()
