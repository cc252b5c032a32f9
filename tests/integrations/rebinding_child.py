"""Run inside a private network namespace by tests/integrations/test_outbound_ssrf.py: a DNS
server on 127.0.0.1:53 that rebinds `rebind.test` (its first A answer is the namespace's
"public" address, every later one 127.0.0.1), an HTTP receiver on each of the two addresses,
and one delivery through `integrations.outbound.post_json` with internal addresses refused.
Prints what happened as JSON."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PUBLIC = sys.argv[1]
PORT = 8080


def dns_server(answers: list[str], queries: list[str]) -> None:
    import dns.message
    import dns.rdatatype
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 53))

    def serve() -> None:
        while True:
            wire, client = sock.recvfrom(4096)
            query = dns.message.from_wire(wire)
            question = query.question[0]
            kind = dns.rdatatype.to_text(question.rdtype)
            response = dns.message.make_response(query)
            if str(question.name).lower() == "rebind.test." and kind == "A":
                queries.append(kind)
                address = answers[0] if len(queries) == 1 else answers[1]
                response.answer.append(
                    dns.rrset.from_text_list("rebind.test.", 0, "IN", "A", [address])
                )
            sock.sendto(response.to_wire(), client)

    threading.Thread(target=serve, daemon=True).start()


def receiver(address: str, hits: list[dict[str, str]]) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.append({"path": self.path, "host": self.headers.get("Host", "")})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((address, PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["INTEGRATIONS_ALLOW_PRIVATE_URLS"] = "false"
    import django

    django.setup()
    from integrations.outbound import post_json

    queries: list[str] = []
    public_hits: list[dict[str, str]] = []
    loopback_hits: list[dict[str, str]] = []
    dns_server([PUBLIC, "127.0.0.1"], queries)
    receiver(PUBLIC, public_hits)
    receiver("127.0.0.1", loopback_hits)

    attempt = post_json(f"http://rebind.test:{PORT}/hook", b"{}", {})
    print(
        json.dumps(
            {
                "ok": attempt.ok,
                "error": attempt.error,
                "a_queries": len(queries),
                "public_hits": public_hits,
                "loopback_hits": loopback_hits,
            }
        )
    )


if __name__ == "__main__":
    main()
