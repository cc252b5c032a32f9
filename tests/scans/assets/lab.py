"""A small lab on 127.0.0.1 for inventory tests: a web server, one that redirects, a TLS server
with a self-signed certificate, a port kept free to open later, and a workflow that resolves
lab.outpost.test with the local DNS zone (tests.scanning.dns_zone), scans exactly those ports,
probes the web servers and inspects TLS."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.scanning import DnsZone
from tests.scans.builtin.conftest import WebServer, make_certificate, server_tls_context

PAGE = "<html><head><title>{title}</title></head><body>lab</body></html>"


def html(title: str) -> tuple[int, dict[str, str], bytes]:
    return (
        200,
        {"Content-Type": "text/html; charset=utf-8", "Server": "nginx/1.25.3"},
        PAGE.format(title=title).encode(),
    )


class SimpleWeb:
    """An HTTP server on a chosen port (to open a port that was closed)."""

    def __init__(self, port: int, title: str) -> None:
        body = PAGE.format(title=title).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Lab:
    web: WebServer  # "/" titled "Lab home"
    redirect: WebServer  # "/" redirects to "/login"
    tls: WebServer  # https, self-signed certificate for lab.outpost.test
    spare_port: int  # closed until `open_spare`
    zone: DnsZone
    opened: list[SimpleWeb] = field(default_factory=list)

    @property
    def ports(self) -> list[int]:
        return [self.web.port, self.redirect.port, self.tls.port, self.spare_port]

    def open_spare(self) -> None:
        self.opened.append(SimpleWeb(self.spare_port, "Spare"))

    def close(self) -> None:
        for server in self.opened:
            server.close()

    def graph_nodes(self) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        nodes = [
            {"id": "dns", "type": "dns_resolve", "config": {
                "record_types": "A,CNAME", "nameserver": self.zone.nameserver,
                "use_system_resolver": False}},
            {"id": "ports", "type": "port_scan", "config": {
                "ports": ",".join(map(str, self.ports)), "timeout_ms": 500}},
            {"id": "web", "type": "http_probe", "config": {"schemes": "https,http", "timeout_ms": 3000}},
            {"id": "tls", "type": "tls_inspect", "config": {"check_weak_protocols": False}},
        ]  # fmt: skip
        return nodes, [("dns", "ports"), ("ports", "web"), ("web", "tls")]


def make_lab(web_server: Callable[..., WebServer], folder: Path, zone: DnsZone) -> Lab:
    web = web_server()
    web.routes["/"] = html("Lab home")
    redirect = web_server()
    redirect.routes["/"] = (302, {"Location": "/login"}, b"")
    redirect.routes["/login"] = html("Sign in")
    certificate = make_certificate(
        folder, common_name="lab.outpost.test", dns_names=("lab.outpost.test",)
    )
    tls = web_server(tls=server_tls_context(certificate))
    tls.routes["/"] = html("Secure area")
    return Lab(web=web, redirect=redirect, tls=tls, spare_port=free_tcp_port(), zone=zone)
