"""The built-in port_scan: real listeners on 127.0.0.1 and ::1."""

from __future__ import annotations

import itertools
import re
import socket
import time
from collections.abc import Iterator

import pytest

from scans.tools import port_scan
from scans.tools.kit import tcp_connect
from scans.tools.kit.port_spec import PortSpecError, parse_port_spec
from scans.tools.kit.tcp_connect import scan_tcp_ports
from scans.tools.kit.top_ports import TOP_100_TCP, TOP_1000_TCP
from targets.items import Item
from tests.scans.conftest import StepContextFactory


def listeners(host: str, count: int) -> list[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    made = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        sock.listen(64)
        made.append(sock)
    return made


def free_port(host: str) -> int:
    """A port nothing listens on (bound then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def open_ports_v4() -> Iterator[list[int]]:
    socks = listeners("127.0.0.1", 3)
    yield sorted(s.getsockname()[1] for s in socks)
    for sock in socks:
        sock.close()


@pytest.mark.smoke
def test_it_reports_the_open_ports_of_a_host_and_not_the_closed_ones(
    step_context: StepContextFactory, open_ports_v4: list[int]
) -> None:
    closed = free_port("127.0.0.1")
    spec = ",".join(str(p) for p in [*open_ports_v4, closed])
    ctx = step_context(config={"ports": spec}, items=[Item("host", "127.0.0.1")])

    result = port_scan.run(ctx)

    assert result.error == ""
    assert [item.value for item in result.items] == [f"127.0.0.1:{p}/tcp" for p in open_ports_v4]
    assert all(item.kind == "service" for item in result.items)
    assert result.items[0].attrs == {
        "host": "127.0.0.1",
        "port": open_ports_v4[0],
        "proto": "tcp",
        "address": "127.0.0.1",
    }
    assert result.findings == []
    assert "127.0.0.1: 3 open, 1 closed" in step_context.logs[0]


def test_it_scans_ipv6_loopback(step_context: StepContextFactory) -> None:
    socks = listeners("::1", 2)
    try:
        ports = sorted(s.getsockname()[1] for s in socks)
        spec = f"{ports[0]},{ports[1]},{free_port('::1')}"
        result = port_scan.run(step_context(config={"ports": spec}, items=[Item("host", "::1")]))
    finally:
        for sock in socks:
            sock.close()

    assert [item.value for item in result.items] == [f"[::1]:{p}/tcp" for p in ports]


def test_it_keeps_the_host_name_it_was_given_and_records_the_address(
    step_context: StepContextFactory, open_ports_v4: list[int]
) -> None:
    socks = listeners("::1", 1)
    v6_port = socks[0].getsockname()[1]
    try:
        result = port_scan.run(
            step_context(
                config={"ports": ",".join(str(p) for p in [*open_ports_v4, v6_port])},
                items=[Item("host", "localhost")],
            )
        )
    finally:
        socks[0].close()

    address = socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)[0][4][0]
    assert {item.attrs["address"] for item in result.items} == {address}
    assert all(item.value.startswith("localhost:") for item in result.items)
    assert result.items  # whichever loopback family localhost resolves to first has a listener


@pytest.mark.smoke
def test_it_describes_one_command_per_host_and_runs_exactly_that(
    step_context: StepContextFactory, open_ports_v4: list[int]
) -> None:
    config = {"ports": str(open_ports_v4[0]), "timeout_ms": 300, "concurrency": 16}
    items = [Item("host", "127.0.0.1"), Item("url", "http://127.0.0.1/"), Item("host", "::1")]

    planned = port_scan.commands(config, items)
    result = port_scan.run(step_context(config=config, items=items))

    assert [c.argv for c in planned] == [
        [
            "builtin:port_scan",
            "--ports",
            str(open_ports_v4[0]),
            "--timeout-ms",
            "300",
            "--concurrency",
            "16",
            "--",
            "127.0.0.1",
        ],
        [
            "builtin:port_scan",
            "--ports",
            str(open_ports_v4[0]),
            "--timeout-ms",
            "300",
            "--concurrency",
            "16",
            "--",
            "::1",
        ],
    ]
    assert [run.argv for run in result.runs] == [c.argv for c in planned]
    assert all(run.executor == "builtin" and run.exit_code == 0 for run in result.runs)
    assert f"open {open_ports_v4[0]}/tcp" in result.runs[0].stdout.decode()


def test_it_counts_a_port_that_never_answers_as_filtered_after_the_timeout() -> None:
    # A listener whose accept queue is full drops further SYNs: a silent port, on loopback.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    try:
        started = time.monotonic()
        outcome = scan_tcp_ports("127.0.0.1", [port], timeout_s=0.4)
        elapsed = time.monotonic() - started
    finally:
        for sock in [listener, *fillers]:
            sock.close()

    assert outcome.open_ports == []
    assert outcome.filtered == 1
    assert 0.35 < elapsed < 2


def test_it_stops_a_long_scan_when_the_step_is_cancelled(
    step_context: StepContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cancelled at the scan's first look (a tick every millisecond here): a wall-clock deadline
    # raced the scan, and a quiet machine refuses all 65,535 loopback ports in under 0.3 s.
    monkeypatch.setattr(tcp_connect, "TICK_S", 0.001)
    looks = itertools.count()
    ctx = step_context(
        config={"ports": "all", "timeout_ms": 2000, "concurrency": 4},
        items=[Item("host", "127.0.0.1"), Item("host", "::1")],
        is_cancelled=lambda: next(looks) > 0,  # the step's own check before the first host
    )
    started = time.monotonic()

    result = port_scan.run(ctx)

    assert time.monotonic() - started < 3
    assert len(result.runs) == 1  # the second host was never started
    assert result.runs[0].cancelled
    assert result.error == "cancelled"
    scanned = re.search(r"of (\d+) scanned", result.runs[0].stdout.decode())
    assert scanned is not None and int(scanned[1]) < 65535


def test_it_heart_beats_during_a_long_scan(
    step_context: StepContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(port_scan, "HEARTBEAT_EVERY_S", 0.0)

    port_scan.run(step_context(config={"ports": "all"}, items=[Item("host", "127.0.0.1")]))

    assert step_context.heartbeats >= 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("22,abc", "unknown entry 'abc'"),
        ("22,8O", "unknown entry '8O'"),
        ("0", "port 0 out of range"),
        ("80,70000", "port 70000 out of range"),
        ("90-80", "range '90-80' runs backwards"),
        ("22,,23", "empty entry"),
        ("1-2-3", "bad port '2-3'"),
        ("-5", "bad port ''"),
        (" ", "no ports given"),
        ("top-10", "unknown entry 'top-10'"),
        ("22,ssh", "unknown entry 'ssh'"),
    ],
)
def test_a_bad_port_spec_is_refused_naming_the_bad_token(spec: str, message: str) -> None:
    with pytest.raises(PortSpecError, match=message.replace("(", r"\(")):
        parse_port_spec(spec)


def test_port_specs_mix_keywords_lists_and_ranges_without_duplicates() -> None:
    assert parse_port_spec("22, 80,8000-8003,80") == [22, 80, 8000, 8001, 8002, 8003]
    assert parse_port_spec("top-100") == list(TOP_100_TCP)
    assert parse_port_spec("all") == list(range(1, 65536))
    assert len(parse_port_spec("top-1000,8000-8100")) == len(
        set(TOP_1000_TCP) | set(range(8000, 8101))
    )
    assert len(TOP_1000_TCP) == len(set(TOP_1000_TCP)) == 1000
    assert {22, 80, 443, 3389}.issubset(TOP_100_TCP)


def test_a_bad_config_fails_before_any_command_is_planned() -> None:
    with pytest.raises(ValueError, match="ports: unknown entry 'x'"):
        port_scan.commands({"ports": "x"}, [Item("host", "127.0.0.1")])
    with pytest.raises(ValueError, match="concurrency: must be at most 8192"):
        port_scan.commands({"concurrency": 100000}, [Item("host", "127.0.0.1")])
