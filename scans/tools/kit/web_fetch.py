"""Many HTTP GETs at once for the built-in web tools (content discovery, the crawler): one
asyncio loop, keep-alive connections up to `concurrency`, bodies read up to a cap.

Like http_probe: redirects are never followed by the client (the caller decides, after a scope
check), certificates are not verified (recon meets self-signed servers), no proxy, credentials
or cookies come from the environment. The caller checks every URL against scope before it hands
it here; this module fetches exactly what it is given.

`fetch_pages` runs the event loop in a thread of its own and hands the pages to the caller's
thread: the caller checks scope, cancellation and heartbeats, which use the database, and Django
refuses database calls from inside an event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from scans.engine.sandbox.guard import async_guarded_transport

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


def web_client(*, concurrency: int, timeout_s: float, guard: Any = None) -> httpx.AsyncClient:
    """The client; with the step's connect guard every connection is scope-checked and pinned
    (scans.engine.sandbox.guard)."""
    transport = (
        async_guarded_transport(guard, verify=False, trust_env=False) if guard is not None else None
    )
    return httpx.AsyncClient(
        transport=transport,
        verify=False,  # noqa: S501 - recon meets self-signed servers; tls_inspect judges them
        trust_env=False,
        follow_redirects=False,
        timeout=timeout_s,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )


async def fetch(client: httpx.AsyncClient, url: str, *, max_body: int) -> Page:
    try:
        async with client.stream("GET", url) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= max_body:
                    break
            declared = response.headers.get("content-length", "")
            length = len(body)
            if len(body) >= max_body and declared.isdigit():
                length = int(declared)
            return Page(
                url=url,
                status=response.status_code,
                content_type=response.headers.get("content-type", "").split(";")[0].strip(),
                location=response.headers.get("location", ""),
                length=length,
                body=bytes(body[:max_body]),
            )
    except (httpx.HTTPError, OSError, ValueError) as exc:
        return Page(url=url, error=f"{type(exc).__name__}: {str(exc)[:200]}")


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
    queue = iter(urls)
    async with web_client(concurrency=concurrency, timeout_s=timeout_s, guard=guard) as client:
        running: set[asyncio.Task[Page]] = set()
        while True:
            while len(running) < concurrency and not should_stop():
                url = next(queue, None)
                if url is None:
                    break
                running.add(asyncio.ensure_future(fetch(client, url, max_body=max_body)))
            if not running:
                return
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield task.result()
            if should_stop():
                for task in running:
                    task.cancel()
                return


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
                    pages.put(page, timeout=0.1)
                    break
                except queue.Full:
                    await asyncio.sleep(0)

    def loop() -> None:
        try:
            asyncio.run(produce())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
        finally:
            pages.put(None)

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
