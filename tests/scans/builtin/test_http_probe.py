"""The built-in http_probe against real HTTP(S) servers on loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scans.tools import http_probe
from scans.tools.kit.http_checks import page_title
from targets.items import Item
from tests.scans.builtin.conftest import WebServer, make_certificate, server_tls_context
from tests.scans.conftest import StepContextFactory, hosts_scope

HARDENED = {
    "Strict-Transport-Security": "max-age=31536000",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
PAGE = (
    200,
    {"Content-Type": "text/html; charset=utf-8"},
    b"<html><head><title> Hello &amp; welcome\n</title></head></html>",
)


@pytest.mark.smoke
def test_it_records_status_title_server_and_content_type_of_a_url(
    step_context: StepContextFactory, web_server: Callable[..., WebServer]
) -> None:
    server = web_server(routes={"/": PAGE})
    ctx = step_context(items=[Item("url", f"{server.origin}/")])

    result = http_probe.run(ctx)

    assert result.error == ""
    assert [item.value for item in result.items] == [f"{server.origin}/"]
    attrs = result.items[0].attrs
    assert attrs["status"] == 200
    assert attrs["title"] == "Hello & welcome"
    assert attrs["server"] == "outpost-test/1.0"
    assert attrs["content_type"] == "text/html; charset=utf-8"
    assert attrs["tls"] is False
    assert server.hits["/"] == 1


def test_it_tries_https_first_then_falls_back_to_http_on_a_service(
    step_context: StepContextFactory, web_server: Callable[..., WebServer]
) -> None:
    server = web_server(routes={"/": PAGE})

    result = http_probe.run(step_context(items=[Item.service("127.0.0.1", server.port)]))

    assert [item.value for item in result.items] == [f"http://127.0.0.1:{server.port}/"]
    assert result.items[0].attrs["service"] == f"127.0.0.1:{server.port}/tcp"
    assert server.connections == 2  # the https attempt, then http
    assert (
        "SSL" in result.runs[0].stderr.decode() or "ConnectError" in result.runs[0].stderr.decode()
    )


def test_it_speaks_https_to_a_self_signed_server_and_reports_missing_headers(
    step_context: StepContextFactory, web_server: Callable[..., WebServer], tmp_path: Path
) -> None:
    certificate = make_certificate(tmp_path / "tls", ip_addresses=("::1",))
    server = web_server(host="::1", tls=server_tls_context(certificate), routes={"/": PAGE})

    result = http_probe.run(step_context(items=[Item.service("::1", server.port)]))

    url = f"https://[::1]:{server.port}/"
    assert [item.value for item in result.items] == [url]
    assert result.items[0].attrs["tls"] is True
    found = {f.rule_id: f for f in result.findings}
    assert set(found) == {
        "missing-hsts",
        "missing-csp",
        "missing-x-content-type-options",
        "missing-x-frame-options",
    }
    assert {f.severity for f in result.findings} == {"low"}
    assert found["missing-hsts"].location == url
    # The findings are about the URL that answered (its inventory asset), not the probed service.
    assert found["missing-hsts"].item == url
    assert found["missing-hsts"].component == ""
    assert found["missing-hsts"].tool == "http_probe"


def test_plain_http_gets_informational_header_findings_and_no_hsts_finding(
    step_context: StepContextFactory, web_server: Callable[..., WebServer]
) -> None:
    server = web_server(routes={"/": PAGE})

    result = http_probe.run(step_context(items=[Item("url", f"{server.origin}/")]))

    assert {f.rule_id for f in result.findings} == {
        "missing-csp",
        "missing-x-content-type-options",
        "missing-x-frame-options",
    }
    assert {f.severity for f in result.findings} == {"info"}


def test_a_hardened_https_server_gets_no_header_findings(
    step_context: StepContextFactory, web_server: Callable[..., WebServer], tmp_path: Path
) -> None:
    certificate = make_certificate(tmp_path / "tls", ip_addresses=("127.0.0.1",))
    status, headers, body = PAGE
    server = web_server(
        tls=server_tls_context(certificate), routes={"/": (status, {**headers, **HARDENED}, body)}
    )

    result = http_probe.run(step_context(items=[Item("url", f"{server.origin}/")]))

    assert result.items[0].attrs["status"] == 200
    assert result.findings == []  # frame-ancestors in the CSP stands in for X-Frame-Options


def test_it_follows_an_in_scope_redirect_and_records_the_chain(
    step_context: StepContextFactory, web_server: Callable[..., WebServer]
) -> None:
    server = web_server(routes={"/old": (301, {"Location": "/new"}, b""), "/new": PAGE})

    result = http_probe.run(step_context(items=[Item("url", f"{server.origin}/old")]))

    assert [(i.value, i.attrs["status"]) for i in result.items] == [
        (f"{server.origin}/old", 301),
        (f"{server.origin}/new", 200),
    ]
    assert result.items[0].attrs["redirect_to"] == f"{server.origin}/new"
    assert result.items[0].attrs["redirects"] == [f"{server.origin}/new"]
    assert {f.location for f in result.findings} == {f"{server.origin}/new"}  # the final page only


@pytest.mark.smoke
def test_it_never_touches_a_redirect_target_outside_scope(
    step_context: StepContextFactory, web_server: Callable[..., WebServer]
) -> None:
    elsewhere = web_server(routes={"/": PAGE})
    server = web_server(
        routes={"/": (302, {"Location": f"http://localhost:{elsewhere.port}/"}, b"")}
    )

    result = http_probe.run(step_context(items=[Item("url", f"{server.origin}/")]))

    assert elsewhere.connections == 0
    assert [i.value for i in result.items] == [f"{server.origin}/"]
    assert f"redirect to http://localhost:{elsewhere.port}/ not followed: out of scope" in " ".join(
        step_context.logs
    )
    assert Item("url", f"http://localhost:{elsewhere.port}/") in step_context.scope_checks
    assert result.findings == []  # a redirect is not the page whose headers matter


def test_the_same_redirect_is_followed_when_the_target_is_in_scope(
    step_context: StepContextFactory, web_server: Callable[..., WebServer]
) -> None:
    elsewhere = web_server(routes={"/": PAGE})
    server = web_server(
        routes={"/": (302, {"Location": f"http://localhost:{elsewhere.port}/"}, b"")}
    )
    ctx = step_context(
        items=[Item("url", f"{server.origin}/")], in_scope=hosts_scope({"127.0.0.1", "localhost"})
    )

    result = http_probe.run(ctx)

    assert elsewhere.hits["/"] == 1  # the counter would have seen the out-of-scope visit above
    assert [i.value for i in result.items][-1] == f"http://localhost:{elsewhere.port}/"


def test_it_stops_after_the_configured_number_of_redirects(
    step_context: StepContextFactory, web_server: Callable[..., WebServer]
) -> None:
    server = web_server(routes={f"/{n}": (302, {"Location": f"/{n + 1}"}, b"") for n in range(10)})

    result = http_probe.run(
        step_context(config={"max_redirects": 2}, items=[Item("url", f"{server.origin}/0")])
    )

    assert server.hits["*"] == 3
    assert "2 redirects already followed" in " ".join(step_context.logs)
    assert len(result.items) == 3


def test_a_service_without_a_web_server_is_a_result_not_a_failed_step(
    step_context: StepContextFactory,
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends
    web = step_context(items=[Item.service("127.0.0.1", port)])

    result = http_probe.run(web)

    assert result.items == []
    assert result.runs[0].exit_code == 1
    assert result.runs[0].error == ""
    assert result.error == ""


def test_it_describes_one_command_per_tcp_service_or_url() -> None:
    items = [
        Item.service("127.0.0.1", 8080),
        Item.service("127.0.0.1", 53, "udp"),
        Item("url", "HTTP://127.0.0.1:80"),
        Item("host", "127.0.0.1"),
        Item("url", "ftp://127.0.0.1/"),
    ]

    planned = http_probe.commands({"schemes": "http", "max_redirects": 0}, items)

    assert [c.argv[-1] for c in planned] == ["127.0.0.1:8080/tcp", "http://127.0.0.1/"]
    assert planned[0].argv[:11] == [
        "builtin:http_probe", "--schemes", "http", "--timeout-ms", "5000", "--max-redirects", "0",
        "--max-body-kb", "256", "--check-headers", "--",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("html", "title"),
    [
        ("<TITLE>Admin</TITLE>", "Admin"),
        ("<title\n lang=en>  a\n\tb  </title>", "a b"),
        ("<title>&lt;script&gt;</title>", "<script>"),
        ("<html>no title</html>", ""),
        ("<title>" + "x" * 500, "x" * 200),
        ("<title" * 20000, ""),
    ],
)
def test_the_page_title_is_read_safely(html: str, title: str) -> None:
    assert page_title(html) == title


def test_a_server_dripping_its_body_does_not_hold_the_probe(
    step_context: StepContextFactory,
) -> None:
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<title>slow</title>"
            )
            for _ in range(100):  # 10 s of one byte every 0.1 s, each read well within the timeout
                try:
                    conn.sendall(b".")
                except OSError:
                    return
                time.sleep(0.1)

    threading.Thread(target=drip, daemon=True).start()
    started = time.monotonic()
    try:
        result = http_probe.run(
            step_context(
                config={"timeout_ms": 500}, items=[Item("url", f"http://127.0.0.1:{port}/")]
            )
        )
    finally:
        listener.close()

    assert time.monotonic() - started < 3
    assert result.items[0].attrs["title"] == "slow"
