"""A fast local web server for the recon benchmarks, run as its own process so that the clients
measured (the built-in tools, ffuf) are not slowed by it sharing their interpreter:

    python tests/bench/recon_site.py PORT

asyncio, HTTP/1.1 keep-alive, one write per response. Paths:
- `/p/N` (0 <= N < 10,000): a generated site, each page linking to pages 2N+1 and 2N+2 and to
  page N // 3 (a binary tree with back links: every page is reachable from /, depth 14);
- `/`: page 0; `/admin`, `/backup`, `/config`, `/login`: hidden pages;
- anything else: 404.
"""

from __future__ import annotations

import asyncio
import sys

PAGES = 10_000
HIDDEN = {"/admin", "/backup", "/config", "/login"}


def page(number: int) -> bytes:
    links = [n for n in (2 * number + 1, 2 * number + 2, number // 3) if n < PAGES]
    anchors = "".join(f'<a href="/p/{n}">page {n}</a> ' for n in links)
    return f"<html><head><title>Page {number}</title></head><body>{anchors}</body></html>".encode()


def answer(path: str) -> tuple[int, bytes]:
    if path == "/":
        return 200, page(0)
    if path.startswith("/p/") and path[3:].isdigit() and int(path[3:]) < PAGES:
        return 200, page(int(path[3:]))
    if path in HIDDEN:
        return 200, b"<html><title>hidden</title></html>"
    return 404, b"not found"


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode(errors="replace").split("?")[0]
            status, body = answer(path)
            reason = b"OK" if status == 200 else b"Not Found"
            writer.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                % (status, reason, len(body), body)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
