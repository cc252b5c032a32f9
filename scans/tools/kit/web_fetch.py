"""Many HTTP GETs at once for the built-in web tools (content discovery, the crawler): one
asyncio loop, `concurrency` workers each keeping a keep-alive connection per origin, bodies read
up to a cap.

A small HTTP/1.1 client of its own rather than httpx: these tools send thousands of identical
GETs and read status, a few headers and a capped body. On the 2-core development machine httpx's
async client managed about 100 requests a second at 40 in flight against a local server that
ffuf drove at about 9,600; the bare client below is what tests/bench/test_recon_bench.py
compares with ffuf. It speaks what servers answer a GET with: Content-Length, chunked, or a body
until the connection closes.

Like http_probe: redirects are never followed by the client (the caller decides, after a scope
check), certificates are not verified (recon meets self-signed servers), no proxy, credentials
or cookies are used. The caller checks every URL against scope before it hands it here; this
module fetches exactly what it is given.

With the step's connect guard (`ctx.connect_guard`, scans.engine.sandbox.guard), every connection
is checked when it is opened and made to the address the guard checked (pinned: no second
lookup); a refused connection is a page with the guard's reason as its error.

`fetch_pages` runs the event loop in a thread of its own and hands the pages to the caller's
thread: the caller checks scope, cancellation and heartbeats, which use the database, and Django
refuses database calls from inside an event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore

USER_AGENT = "Outpost-web/1.0"
MAX_HEADER_BYTES = 64 * 1024


@dataclass
class Page:
    """One answer (or the reason there was none: `error`)."""

    url: str
    status: int = 0
    content_type: str = ""
    location: str = ""
    length: int = 0  # bytes of the body (Content-Length when the body was cut at the cap)
    body: bytes = b""
    error: str = ""

    @property
    def words(self) -> int:
        return len(self.body.split())

    @property
    def lines(self) -> int:
        return self.body.count(b"\n") + (1 if self.body else 0)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class HttpError(Exception):
    """The server's answer could not be read."""


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # recon meets self-signed servers; tls_inspect judges
    return context


_TLS = _tls_context()
Origin = tuple[str, str, int]  # scheme, host, port
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _origin(url: str) -> tuple[Origin, str, str]:
    """((scheme, host, port), the request target, the Host header) of a URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URL: {url[:100]}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (parts.scheme, parts.hostname, port), target, parts.netloc


async def _connect(origin: Origin, timeout_s: float, guard: Any) -> Connection:
    scheme, host, port = origin
    address = guard.address_for(host, port) if guard is not None else host
    tls = _TLS if scheme == "https" else None
    server_name = host if tls is not None and not host.replace(".", "").isdigit() else None
    opened = asyncio.open_connection(
        address, port, ssl=tls, server_hostname=server_name if tls else None,
        limit=MAX_HEADER_BYTES,
    )  # fmt: skip
    return await asyncio.wait_for(opened, timeout_s)


async def _read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], max_body: int
) -> tuple[bytes, int, bool]:
    """(body up to the cap, its length, whether the connection can carry another request)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # the (empty) trailer
                break
            chunk = await reader.readexactly(size + 2)
            body += chunk[:-2]
            if len(body) > max_body:
                return bytes(body[:max_body]), len(body), False
        return bytes(body), len(body), True
    declared = headers.get("content-length", "")
    if declared.isdigit():
        length = int(declared)
        data = await reader.readexactly(min(length, max_body))
        return data, length, length <= max_body
    data = await reader.read(max_body)  # no length: the body ends when the connection does
    return data, len(data), False


async def _exchange(
    connection: Connection, target: str, host: str, max_body: int, url: str
) -> tuple[Page, bool]:
    reader, writer = connection
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nConnection: keep-alive\r\n\r\n".encode("latin-1")
    )
    await writer.drain()
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, rest = head.decode("latin-1").partition("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP answer: {status_line[:80]!r}")
        status = int(parts[1])
        if status != 100:
            break
    headers: dict[str, str] = {}
    for line in rest.split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if status in (204, 304):
        body, length, reusable = b"", 0, True
    else:
        body, length, reusable = await _read_body(reader, headers, max_body)
    if headers.get("connection", "").lower() == "close":
        reusable = False
    page = Page(
        url=url,
        status=status,
        content_type=headers.get("content-type", "").split(";")[0].strip(),
        location=headers.get("location", ""),
        length=length,
        body=body,
    )
    return page, reusable


class _Worker:
    """One request at a time, a kept-alive connection per origin."""

    def __init__(self, timeout_s: float, max_body: int, guard: Any = None) -> None:
        self.timeout_s, self.max_body, self.guard = timeout_s, max_body, guard
        self.connections: dict[Origin, Connection] = {}

    async def fetch(self, url: str) -> Page:
        try:
            origin, target, host = _origin(url)
        except HttpError as exc:
            return Page(url=url, error=str(exc))
        for attempt in (1, 2):
            reused = origin in self.connections
            try:
                if not reused:
                    self.connections[origin] = await _connect(origin, self.timeout_s, self.guard)
                page, reusable = await asyncio.wait_for(
                    _exchange(self.connections[origin], target, host, self.max_body, url),
                    self.timeout_s,
                )
            except httpcore.ConnectError as exc:  # the guard refused it (and logged why)
                return Page(url=url, error=str(exc)[:300])
            except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError, HttpError, ValueError, ssl.SSLError) as exc:  # fmt: skip
                self.drop(origin)
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: ask again
                return Page(url=url, error=f"{type(exc).__name__}: {str(exc)[:200]}")
            if not reusable:
                self.drop(origin)
            return page
        return Page(url=url, error="no answer")  # not reached: the second attempt returns

    def drop(self, origin: Origin) -> None:
        connection = self.connections.pop(origin, None)
        if connection is not None:
            connection[1].close()

    def close(self) -> None:
        for origin in list(self.connections):
            self.drop(origin)


async def fetch_stream(
    urls: Iterable[str],
    *,
    concurrency: int,
    timeout_s: float,
    max_body: int,
    should_stop: Callable[[], bool],
    guard: Any = None,
) -> AsyncIterator[Page]:
    """Pages as they come (not in order), at most `concurrency` requests in flight."""
    if guard is not None:
        guard.in_use = True
    todo = iter(urls)
    done: asyncio.Queue[Page | None] = asyncio.Queue()

    async def work() -> None:
        worker = _Worker(timeout_s, max_body, guard)
        try:
            while not should_stop():
                url = next(todo, None)
                if url is None:
                    break
                await done.put(await worker.fetch(url))
        finally:
            worker.close()
            await done.put(None)

    workers = [asyncio.ensure_future(work()) for _ in range(max(1, concurrency))]
    running = len(workers)
    try:
        while running:
            page = await done.get()
            if page is None:
                running -= 1
            else:
                yield page
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def fetch_pages(
    urls: Iterable[str], *, concurrency: int, timeout_s: float, max_body: int, guard: Any = None
) -> Iterator[Page]:
    """`fetch_stream` for synchronous code: pages as they come; leaving the loop early (break,
    an exception) stops the fetching."""
    pages: queue.Queue[Page | None] = queue.Queue(maxsize=concurrency * 4)
    stop = threading.Event()
    failure: list[BaseException] = []

    async def produce() -> None:
        async for page in fetch_stream(
            urls, concurrency=concurrency, timeout_s=timeout_s, max_body=max_body,
            should_stop=stop.is_set, guard=guard,
        ):  # fmt: skip
            while not stop.is_set():
                try:
                    pages.put_nowait(page)
                    break
                except queue.Full:
                    await asyncio.sleep(0.005)

    def loop() -> None:
        try:
            asyncio.run(produce())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
        finally:
            while True:
                try:
                    pages.put(None, timeout=0.1)
                    break
                except queue.Full:
                    if stop.is_set():
                        with contextlib.suppress(queue.Empty):
                            pages.get_nowait()

    thread = threading.Thread(target=loop, name="web-fetch", daemon=True)
    thread.start()
    try:
        while (page := pages.get()) is not None:
            yield page
        if failure:
            raise failure[0]
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                pages.get(timeout=0.1)
        thread.join()


class Beat:
    """Calls `heartbeat` at most every `every_s` seconds."""

    def __init__(self, heartbeat: Callable[[], None], every_s: float = 2.0) -> None:
        self.heartbeat, self.every_s, self.last = heartbeat, every_s, time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            self.heartbeat()
