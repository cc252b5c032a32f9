"""masscan: its plan (IPv4 addresses only, names through the step's own resolutions or refused in
words, the operator's rate cap, loopback through `lo`) and a real run in its container (the local
test image from Debian's masscan, host network, CAP_NET_RAW) against 127.0.0.1: it reports exactly
the ports a frame-level responder on lo answers as open, not those answering RST, and not a
listener of the kernel's own stack, which never sees masscan's frames on lo (the evidence is in
scans/tools/masscan.py's docstring and the step log's note)."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from scans.engine.executors.docker import DockerExecutor
from scans.engine.runtime import StepFailed
from scans.engine.sandbox.enforcement import EnforcementUnavailable, network_enforcement
from scans.tools import masscan
from targets.items import Item


def _argv_after(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_it_scans_the_addresses_collapsed_into_prefixes_in_one_command() -> None:
    items = [Item("host", f"10.0.0.{n}") for n in range(256)] + [Item("host", "10.0.1.7")]

    [command] = masscan.commands({"ports": "22,80-82"}, items)

    argv = command.argv
    assert argv[:3] == ["masscan", "-p", "22,80-82"]
    assert _argv_after(argv, "--range") == ["10.0.0.0/24", "10.0.1.7"]
    assert _argv_after(argv, "-oJ") == ["/output/masscan-1.json"]
    assert "--adapter" not in argv


def test_loopback_addresses_get_their_own_command_through_lo() -> None:
    loop, remote = masscan.commands(
        {"ports": "80"}, [Item("host", "127.0.0.1"), Item("host", "192.0.2.10")]
    )

    assert _argv_after(loop.argv, "--range") == ["127.0.0.1"]
    assert _argv_after(loop.argv, "--adapter") == ["lo"]
    assert _argv_after(remote.argv, "--range") == ["192.0.2.10"]
    assert "--adapter" not in remote.argv
    assert _argv_after(remote.argv, "-oJ") == ["/output/masscan-2.json"]


def test_a_name_is_scanned_through_the_address_the_step_resolved_it_to_else_refused() -> None:
    items = [
        Item("host", "app.corp.test"),
        Item("host", "192.0.2.5", {"resolved_from": "app.corp.test", "record": "A"}),
        Item("host", "lost.corp.test"),
        Item("host", "2001:db8::5"),
    ]

    plans, refused = masscan._plans({"ports": "443"}, items)

    [plan] = plans
    assert _argv_after(plan.command.argv, "--range") == ["192.0.2.5"]
    assert refused == [
        "'lost.corp.test' not scanned: masscan does not resolve names and no item of this step "
        "gives its address (put dns_resolve before masscan)",
        "'2001:db8::5' not scanned: masscan scans IPv4 addresses here (use nmap)",
    ]


def test_the_rate_is_the_operators_default_and_never_above_the_cap(settings: Any) -> None:
    settings.MASSCAN_RATE_PPS = 500
    settings.MASSCAN_MAX_RATE_PPS = 2000
    host = [Item("host", "192.0.2.1")]

    def rate(config: dict[str, Any]) -> list[str]:
        return _argv_after(masscan.commands({"ports": "80", **config}, host)[0].argv, "--rate")

    assert rate({}) == ["500"]
    assert rate({"rate_pps": 1500}) == ["1500"]
    assert rate({"rate_pps": 100_000}) == ["2000"]


def test_a_tool_sending_raw_packets_is_not_fenced_by_the_sandbox_and_required_refuses_it(
    settings: Any,
) -> None:
    remote = [Item("host", "192.0.2.10")]
    settings.SCOPE_ENFORCEMENT = "auto"

    decision = network_enforcement(
        executor="docker", network="bridge", items=remote, raw_packets=True
    )

    assert not decision.enforced and "raw packets (CAP_NET_RAW)" in decision.reason
    settings.SCOPE_ENFORCEMENT = "required"
    with pytest.raises(EnforcementUnavailable, match="raw packets"):
        network_enforcement(executor="docker", network="bridge", items=remote, raw_packets=True)


class FrameResponder:
    """What a host's TCP stack would answer masscan's SYNs with, at the frame level on lo: SYN-ACK
    from its open ports, RST from its closed ones, silence from the rest. Needed because the
    kernel's own stack never sees masscan's frames on lo (they are not addressed to lo's zero MAC:
    scans/tools/masscan.py), so nothing else on this machine can answer them."""

    def __init__(self, open_ports: set[int], closed_ports: set[int]) -> None:
        self.open_ports, self.closed_ports = open_ports, closed_ports
        self.syns: list[int] = []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self.sock.bind(("lo", ETH_P_IP))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                frame, address = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            if address[2] == PACKET_OUTGOING or frame[0:6] != ROUTER_MAC or len(frame) < 54:
                continue
            header = (frame[14] & 0x0F) * 4
            ip, tcp = frame[14 : 14 + header], frame[14 + header :]
            if ip[9] != socket.IPPROTO_TCP or tcp[13] != SYN:
                continue
            source_port, port, sequence = struct.unpack("!HHI", tcp[:8])
            self.syns.append(port)
            flags = SYN | ACK if port in self.open_ports else RST | ACK
            if port in self.open_ports | self.closed_ports:
                reply = _segment(ip[16:20], ip[12:16], port, source_port, sequence + 1, flags)
                self.sock.send(frame[6:12] + ROUTER_MAC + b"\x08\x00" + reply)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _segment(source: bytes, target: bytes, sport: int, dport: int, ack: int, flags: int) -> bytes:
    """An IPv4 packet carrying a bare TCP segment (no options), checksums filled in."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0x1000, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = source + target + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, source, target)
    return ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:] + tcp


ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
SYN, RST, ACK = 0x02, 0x04, 0x10
ROUTER_MAC = bytes.fromhex(masscan.LOOPBACK_ROUTER_MAC.replace("-", ""))


def test_under_required_enforcement_a_masscan_step_is_refused_before_it_runs(
    settings: Any, step_context: Any
) -> None:
    settings.SCOPE_ENFORCEMENT = "required"
    ctx = step_context(
        config={"ports": "80"}, items=[Item("host", "127.0.0.1")], executor=DockerExecutor()
    )

    with pytest.raises(StepFailed, match=r"raw packets \(CAP_NET_RAW\)"):
        masscan.run(ctx)


@pytest.fixture
def lab() -> Iterator[tuple[FrameResponder, int]]:
    """A frame responder with three open and three closed ports, and a real listener of this
    machine's TCP stack; every port number reserved by a bound socket."""
    if os.geteuid() != 0:
        pytest.skip("the frame responder needs a packet socket (root or CAP_NET_RAW)")
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(7):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        sock.listen(16)  # the last one: a listener of the kernel's own stack
        responder = FrameResponder(set(ports[:3]), set(ports[3:6]))
        stack.callback(responder.close)
        yield responder, ports[6]


def test_masscan_in_its_container_reports_exactly_the_open_ports_and_not_the_kernels(
    tool_images_settings: dict[str, str],
    step_context: Any,
    lab: tuple[FrameResponder, int],
) -> None:
    responder, kernel_listener = lab
    scanned = sorted(responder.open_ports | responder.closed_ports | {kernel_listener})
    ctx = step_context(
        # A busy 2-core machine may hold the responder's thread for seconds: a long --wait.
        config={"ports": ",".join(map(str, scanned)), "wait_s": 8},
        items=[Item("host", "127.0.0.1")],
        executor=DockerExecutor(),
        timeout_s=120,
    )

    result = masscan.run(ctx)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert run.executor == "docker" and run.image == tool_images_settings["masscan"]
    assert _argv_after(run.argv, "--range") == ["127.0.0.1"]
    assert sorted(responder.syns) == scanned  # one SYN per port, at the frame level
    found = sorted(int(item.value.split(":")[1].split("/")[0]) for item in result.items)
    assert found == sorted(responder.open_ports)
    # The kernel's listener never saw masscan's SYNs (not addressed to lo's MAC), and the log
    # says why.
    assert kernel_listener not in found
    assert masscan.LOOPBACK_NOTE in step_context.logs
    assert {f.rule_id for f in result.findings} == {"open-port"}
    assert [p.name for p in result.artifacts] == ["masscan-1.json"]
