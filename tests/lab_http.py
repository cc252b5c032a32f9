"""A recording HTTP server for tests that run it inside a network namespace they created:
`python -m tests.lab_http --port 8080 --log FILE [--redirect /path=URL]…`. Every request is
appended to FILE as "PORT PATH" (one line, flushed at once), so a test can prove that a host
was never reached (its log stays empty)."""

from __future__ import annotations

import argparse
import http.server
import socket
import threading
from typing import Any


class DualStackServer(http.server.ThreadingHTTPServer):
    """Serves IPv6 and IPv4 (as mapped addresses) on one socket."""

    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, action="append", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--redirect", action="append", default=[])
    args = parser.parse_args()
    redirects = dict(entry.split("=", 1) for entry in args.redirect)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock, open(args.log, "a", encoding="utf-8") as log:
                log.write(f"{self.server.server_address[1]!s} {self.path}\n")  # type: ignore[index]
            target = redirects.get(self.path)
            if target:
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = f"lab host {self.path}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *_: Any) -> None:
            pass

    servers = [DualStackServer(("::", port), Handler) for port in args.port]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
