"""The built-in web tools' HTTP/1.1 client (scans.tools.kit.web_fetch) against a real socket server
on 127.0.0.1 that answers each path with exact bytes: every framing a server may use (length,
chunked with trailers, until close, interim 100, no body), a body cut at the cap, keep-alive
reuse, a server that drops idle connections, and one that never answers."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from scans.tools.kit.web_fetch import Page, fetch_pages

ANSWERS: dict[str, bytes] = {
    "/length": b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Content-Length: 11\r\n\r\nhello\nworld",
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n7\r\n big on\r\n4\r\ne\nmo\r\n0\r\nX-Trailer: yes\r\n\r\n",
    "/big": b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"a " * 2500,
    "/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nLocation: /next\r\n"
    b"Content-Length: 0\r\n\r\n",
    "/empty": b"HTTP/1.1 204 No Content\r\n\r\n",
    "/bad": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
}
CLOSE_DELIMITED = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such\npage\n"


@dataclass
class ScriptedServer:
    port: int
    connections: int = 0
    paths: list[str] = field(default_factory=list)
    drop_idle: bool = False  # close each connection after one answer, without saying so

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    state = ScriptedServer(port=0)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            state.connections += 1
            sock: socket.socket = self.request
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                path = head.split(b" ")[1].decode().split("?")[0]
                state.paths.append(path)
                if path == "/silent":
                    time.sleep(3)
                    return
                if path == "/close":
                    sock.sendall(CLOSE_DELIMITED)
                    sock.shutdown(socket.SHUT_WR)
                    return
                sock.sendall(ANSWERS[path])
                if state.drop_idle:
                    return

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    tcp.daemon_threads = True
    state.port = tcp.server_address[1]
    thread = threading.Thread(target=tcp.serve_forever, daemon=True)
    thread.start()
    yield state
    tcp.shutdown()
    tcp.server_close()


def fetch(urls: list[str], concurrency: int = 1, timeout_s: float = 2.0) -> dict[str, Page]:
    pages = fetch_pages(urls, concurrency=concurrency, timeout_s=timeout_s, max_body=1000)
    return {page.url: page for page in pages}


def test_it_reads_each_framing_a_server_answers_with(server: ScriptedServer) -> None:
    paths = ["/length", "/chunked", "/continue", "/empty", "/close"]

    pages = fetch([server.url(p) for p in paths])

    length = pages[server.url("/length")]
    assert (length.status, length.content_type, length.body) == (200, "text/html", b"hello\nworld")
    assert (length.words, length.lines, length.error) == (2, 2, "")
    chunked = pages[server.url("/chunked")]
    assert chunked.body == b"hello big one\nmo" and chunked.length == 16
    moved = pages[server.url("/continue")]
    assert (moved.status, moved.location, moved.body) == (302, "/next", b"")
    assert pages[server.url("/empty")].status == 204
    until_close = pages[server.url("/close")]
    assert (until_close.status, until_close.body) == (404, b"no such\npage\n")
    # One connection carried the four framed answers; the close-delimited one ended it.
    assert server.paths == paths and server.connections == 1


def test_a_body_past_the_cap_is_cut_and_its_declared_length_kept(server: ScriptedServer) -> None:
    page = fetch([server.url("/big")])[server.url("/big")]

    assert page.status == 200 and len(page.body) == 1000 and page.length == 5000


def test_a_server_that_drops_idle_connections_is_asked_again(server: ScriptedServer) -> None:
    server.drop_idle = True
    urls = [server.url("/length"), server.url("/chunked"), server.url("/empty")]

    pages = fetch(urls)

    assert [p.error for p in pages.values()] == ["", "", ""]
    assert server.connections == 3


def test_an_answer_that_is_not_http_and_one_that_never_comes_are_errors(
    server: ScriptedServer,
) -> None:
    started = time.monotonic()

    pages = fetch([server.url("/bad"), server.url("/silent")], concurrency=2, timeout_s=0.5)

    assert pages[server.url("/bad")].error.startswith("HttpError: not an HTTP answer")
    assert pages[server.url("/silent")].error.startswith("TimeoutError")
    assert time.monotonic() - started < 2.5


def test_many_urls_over_a_few_connections_each_get_their_own_answer(
    server: ScriptedServer,
) -> None:
    urls = [server.url(p) + f"?n={n}" for n in range(200) for p in ("/length", "/chunked")]

    pages = fetch(urls, concurrency=8)

    assert len(pages) == 400 and all(p.error == "" for p in pages.values())
    assert {p.body for u, p in pages.items() if "/chunked" in u} == {b"hello big one\nmo"}
    assert server.connections == 8
