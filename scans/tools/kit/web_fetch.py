"""Many HTTP GETs at once for the built-in web tools (content discovery, the crawler): one
asyncio loop, `concurrency` workers each keeping a keep-alive connection per origin, bodies read
up to a cap.

A small HTTP/1.1 client of its own rather than httpx: these tools send thousands of identical
GETs and read status, a few headers and a capped body. On the 2-core development machine httpx's
async client managed about 100 requests a second at 40 in flight against a local server that
ffuf drove at about 9,600; the bare client below is what tests/bench/test_recon_bench.py
compares with ffuf. It speaks what servers answer a GET with: Content-Length, chunked, or a body
until the connection closes (scans/tools/kit/http1_client.py: a protocol parsing the bytes as
they come; the streams API's readers, a `wait_for` task per request and a queue hand-over per
page had cost about 110-140 µs of CPU a request, this path about 60, ffuf about 90).

Like http_probe: redirects are never followed by the client (the caller decides, after a scope
check), certificates are not verified (recon meets self-signed servers), no proxy, credentials
or cookies are used. The caller checks every URL against scope before it hands it here; this
module fetches exactly what it is given.

With the step's connect guard (`ctx.connect_guard`, scans.engine.sandbox.guard), every connection
is checked when it is opened and made to the address the guard checked (pinned: no second
lookup); a refused connection is a page with the guard's reason as its error.

`fetch_pages` runs the event loop in a thread of its own and hands the pages to the caller's
thread in batches: the caller checks scope, cancellation and heartbeats, which use the database,
and Django refuses database calls from inside an event loop.
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

from scans.tools.kit.http1_client import Connection, HttpError

USER_AGENT = "Outpost-web/1.0"


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


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # recon meets self-signed servers; tls_inspect judges
    return context


_TLS = _tls_context()
Origin = tuple[str, str, int]  # scheme, host, port


def _origin(url: str) -> tuple[Origin, str, str]:
    """((scheme, host, port), the request target, the Host header) of a URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URL: {url[:100]}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (parts.scheme, parts.hostname, port), target, parts.netloc


class _Origins:
    """`_origin` of many URLs of a few origins: the part before the path parsed once per origin
    (urlsplit was a quarter of the client's time). A URL with a character urlsplit would drop
    or treat apart (whitespace, `#`) or without a path takes `_origin` itself."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[Origin, str]] = {}

    def split(self, url: str) -> tuple[Origin, str, str]:
        start = url.find("://")
        slash = url.find("/", start + 3) if start > 0 else -1
        if (
            slash < 0 or url[-1] == "?" or "#" in url or " " in url
            or "\t" in url or "\r" in url or "\n" in url
        ):  # fmt: skip
            return _origin(url)
        prefix = url[:slash]
        known = self.known.get(prefix)
        if known is None:
            if "?" in prefix:
                return _origin(url)
            origin, _, host = _origin(prefix + "/")
            known = self.known[prefix] = (origin, host)
        return known[0], url[slash:], known[1]


async def _connect(origin: Origin, timeout_s: float, guard: Any, max_body: int) -> Connection:
    scheme, host, port = origin
    address = guard.address_for(host, port) if guard is not None else host
    tls = _TLS if scheme == "https" else None
    server_name = host if tls is not None and not host.replace(".", "").isdigit() else None
    loop = asyncio.get_running_loop()
    opened = loop.create_connection(
        lambda: Connection(max_body), address, port, ssl=tls,
        server_hostname=server_name if tls else None,
    )  # fmt: skip
    _, connection = await asyncio.wait_for(opened, timeout_s)
    return connection


def _request(target: str, host: str) -> bytes:
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nConnection: keep-alive\r\n\r\n"
    ).encode("latin-1")


class _Worker:
    """One request at a time, a kept-alive connection per origin."""

    def __init__(self, timeout_s: float, max_body: int, guard: Any, origins: _Origins) -> None:
        self.timeout_s, self.max_body, self.guard = timeout_s, max_body, guard
        self.origins = origins
        self.connections: dict[Origin, Connection] = {}

    async def fetch(self, url: str) -> Page:
        try:
            origin, target, host = self.origins.split(url)
            request = _request(target, host)
        except (HttpError, ValueError) as exc:
            return Page(url=url, error=str(exc)[:300])
        for attempt in (1, 2):
            connection = self.connections.get(origin)
            reused = connection is not None and not connection.is_lost
            try:
                if connection is None or connection.is_lost:
                    connection = await _connect(origin, self.timeout_s, self.guard, self.max_body)
                    self.connections[origin] = connection
                status, headers, body, length, reusable = await connection.ask(
                    request, self.timeout_s
                )
            except httpcore.ConnectError as exc:  # the guard refused it (and logged why)
                return Page(url=url, error=str(exc)[:300])
            except (OSError, EOFError, TimeoutError, HttpError, ValueError,
                    ssl.SSLError) as exc:  # fmt: skip
                self.drop(origin)
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: ask again
                return Page(url=url, error=f"{type(exc).__name__}: {str(exc)[:200]}")
            if not reusable:
                self.drop(origin)
            content_type = headers.get("content-type", "").split(";")[0].strip()
            location = headers.get("location", "")
            return Page(url, status, content_type, location, length, body)
        return Page(url=url, error="no answer")  # not reached: the second attempt returns

    def drop(self, origin: Origin) -> None:
        connection = self.connections.pop(origin, None)
        if connection is not None:
            connection.close()

    def expire(self, now: float) -> None:
        for connection in self.connections.values():
            connection.expire(now)

    def close(self) -> None:
        for origin in list(self.connections):
            self.drop(origin)


async def fetch_batches(
    urls: Iterable[str],
    *,
    concurrency: int,
    timeout_s: float,
    max_body: int,
    should_stop: Callable[[], bool],
    guard: Any = None,
) -> AsyncIterator[list[Page]]:
    """Pages as they come (not in order), in batches of those answered since the last one, at
    most `concurrency` requests in flight. (A batch, not a page, per hand-over: at thousands of
    answers a second the hand-over itself was a good part of the work.) Requests past their
    timeout fail within a quarter of it (one sweep of every connection, not a timer each)."""
    if guard is not None:
        guard.in_use = True
    todo = iter(urls)
    ready: list[Page] = []
    arrived = asyncio.Event()
    origins = _Origins()
    workers = [_Worker(timeout_s, max_body, guard, origins) for _ in range(max(1, concurrency))]
    running = len(workers)

    async def work(worker: _Worker) -> None:
        nonlocal running
        try:
            while not should_stop():
                url = next(todo, None)
                if url is None:
                    break
                page = await worker.fetch(url)
                # Not `ready.append(await …)`: that binds the list before the await, and the
                # list may have been handed over meanwhile.
                ready.append(page)
                arrived.set()
        finally:
            worker.close()
            running -= 1
            arrived.set()

    async def sweep() -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(0.25, timeout_s / 4))
            now = loop.time()
            for worker in workers:
                worker.expire(now)

    tasks = [asyncio.ensure_future(work(worker)) for worker in workers]
    sweeper = asyncio.ensure_future(sweep())
    try:
        while running or ready:
            await arrived.wait()
            arrived.clear()
            if ready:
                batch, ready = ready, []
                yield batch
    finally:
        for task in [*tasks, sweeper]:
            task.cancel()
        await asyncio.gather(*tasks, sweeper, return_exceptions=True)


def fetch_pages(
    urls: Iterable[str], *, concurrency: int, timeout_s: float, max_body: int, guard: Any = None
) -> Iterator[Page]:
    """`fetch_batches` for synchronous code: pages as they come; leaving the loop early (break,
    an exception) stops the fetching."""
    batches: queue.Queue[list[Page] | None] = queue.Queue(maxsize=64)
    stop = threading.Event()
    failure: list[BaseException] = []

    async def produce() -> None:
        async for batch in fetch_batches(
            urls, concurrency=concurrency, timeout_s=timeout_s, max_body=max_body,
            should_stop=stop.is_set, guard=guard,
        ):  # fmt: skip
            while not stop.is_set():
                try:
                    batches.put_nowait(batch)
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
                    batches.put(None, timeout=0.1)
                    break
                except queue.Full:
                    if stop.is_set():
                        with contextlib.suppress(queue.Empty):
                            batches.get_nowait()

    thread = threading.Thread(target=loop, name="web-fetch", daemon=True)
    thread.start()
    try:
        while (batch := batches.get()) is not None:
            yield from batch
        if failure:
            raise failure[0]
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.1)
        thread.join()


class Beat:
    """Calls `heartbeat` at most every `every_s` seconds."""

    def __init__(self, heartbeat: Callable[[], None], every_s: float = 2.0) -> None:
        self.heartbeat, self.every_s, self.last = heartbeat, every_s, time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            self.heartbeat()
