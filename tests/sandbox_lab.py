"""Fixtures for the network sandbox's tests (a plugin for the whole suite, like tests/scanning.py).

Two "hosts" for the network sandbox's tests, each in a network namespace the test creates and
linked to the worker's namespace by a veth pair: A (authorized) and B (not), each serving HTTP
on ports 8080 and 9090 (IPv4 and IPv6) and logging every request. A redirects /go to B, and /wild
to a name under the authorized domain that resolves to B. Their addresses (198.19.231.2 and
198.19.232.2, fd23:231::2 and fd23:232::2: unique local, RFC 4193) exist only on these links,
which are deleted afterwards; nothing sent to them can leave the machine. A dnsmasq zone on
127.0.0.1 names them. Each host counts the TCP connections opened to it (`connections()`, an
nftables counter of SYNs in its namespace), for tools that connect without a request to log."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import pytest

from tests.conftest import service_unavailable
from tests.scanning import _free_port

ROOT = Path(__file__).resolve().parent.parent
ADDRESS_A = "198.19.231.2"
ADDRESS_B = "198.19.232.2"
ADDRESS_A6 = "fd23:231::2"
ADDRESS_B6 = "fd23:232::2"
ZONE = "lab23.test"
# A name with more addresses than a 512-byte UDP answer holds (40 in A's /24, plus B): the
# sandbox resolver's TCP answers are tried with it.
MANY = f"many.{ZONE}"
MANY_ADDRESSES = [f"198.19.231.{n}" for n in range(10, 50)]


@dataclass
class LabHost:
    namespace: str
    address: str
    log: Path

    def requests(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def connections(self) -> int:
        """TCP connections opened to this host so far (SYNs counted in its namespace)."""
        listing = subprocess.run(
            ["ip", "netns", "exec", self.namespace, "nft", "list", "chain", "inet", "lab", "syn"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
        found = re.search(r"counter packets (\d+)", listing)
        return int(found.group(1)) if found else 0


@dataclass
class Lab:
    a: LabHost
    b: LabHost
    nameserver: str  # 127.0.0.1:port of the zone


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _host(tag: str, octet: int, log: Path, redirects: list[str]) -> tuple[LabHost, Any]:
    namespace = f"o23-{tag}-{uuid.uuid4().hex[:6]}"
    outer, inner = f"o23{tag}{octet}", "lab0"
    # A run killed before its clean-up leaves its link (and the address) behind.
    subprocess.run(["ip", "link", "del", outer], capture_output=True, check=False)
    _ip("netns", "add", namespace)
    try:
        return _host_in(namespace, outer, inner, tag, octet, log, redirects)
    except BaseException:
        subprocess.run(["ip", "link", "del", outer], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        raise


def _host_in(
    namespace: str, outer: str, inner: str, tag: str, octet: int, log: Path, redirects: list[str]
) -> tuple[LabHost, Any]:
    _ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", namespace)
    _ip("addr", "add", f"198.19.{octet}.1/24", "dev", outer)
    _ip("addr", "add", f"fd23:{octet}::1/64", "dev", outer, "nodad")
    _ip("link", "set", outer, "up")
    _ip("-n", namespace, "addr", "add", f"198.19.{octet}.2/24", "dev", inner)
    _ip("-n", namespace, "addr", "add", f"fd23:{octet}::2/64", "dev", inner, "nodad")
    _ip("-n", namespace, "link", "set", inner, "up")
    _ip("-n", namespace, "link", "set", "lo", "up")
    _ip("-n", namespace, "route", "add", "default", "via", f"198.19.{octet}.1")
    _ip("-n", namespace, "-6", "route", "add", "default", "via", f"fd23:{octet}::1")
    subprocess.run(
        ["ip", "netns", "exec", namespace, "nft", "-f", "-"],
        input="table inet lab {\n chain syn {\n  type filter hook input priority 0;\n"
        "  tcp flags & (syn | ack) == syn counter\n }\n}\n",
        text=True, capture_output=True, timeout=10, check=True,
    )  # fmt: skip
    argv = ["ip", "netns", "exec", namespace, sys.executable, "-m", "tests.lab_http",
            "--port", "8080", "--port", "9090", "--log", str(log)]  # fmt: skip
    for redirect in redirects:
        argv += ["--redirect", redirect]
    server = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert server.stdout is not None
    if server.stdout.readline().strip() != b"ready":
        raise RuntimeError(f"lab server {tag} did not start: {server.stderr.read()!r}")  # type: ignore[union-attr]
    return LabHost(namespace, f"198.19.{octet}.2", log), (server, namespace, outer)


def _dnsmasq(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(binary):
        service_unavailable("dnsmasq", "Debian's dnsmasq-base is not installed")
    argv = [
        binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--no-poll", "--pid-file=", f"--port={port}", "--listen-address=127.0.0.1",
        "--bind-interfaces", "--user=nobody",
        f"--host-record=a.{ZONE},{ADDRESS_A}",
        f"--host-record=b.other23.test,{ADDRESS_B}",
        # A wildcard record under the authorized domain that points at B.
        f"--address=/wild.{ZONE}/{ADDRESS_B}",
        *(f"--host-record={MANY},{address}" for address in [*MANY_ADDRESSES, ADDRESS_B]),
        # IPv6 only: A's name, and a wildcard under the authorized domain pointing at B.
        f"--host-record=a6.{ZONE},{ADDRESS_A6}",
        f"--address=/wild6.{ZONE}/{ADDRESS_B6}",
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_answering(port: int, within_s: float = 10.0) -> None:
    """Until the zone answers (on a loaded machine dnsmasq takes a while to bind its port, and
    a question before that gets no answer at all)."""
    query = dns.message.make_query(f"a.{ZONE}", "A")
    deadline = time.monotonic() + within_s
    while True:
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
            return
        except (OSError, dns.exception.DNSException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def scope_lab(tmp_path: Path) -> Iterator[Lab]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        service_unavailable("netns", "network namespaces need root and iproute2")
    made: list[Any] = []
    port = _free_port()
    zone = _dnsmasq(port)
    try:
        b, b_parts = _host("b", 232, tmp_path / "b.log", [])
        made.append(b_parts)
        a, a_parts = _host(
            "a",
            231,
            tmp_path / "a.log",
            [f"/go=http://{ADDRESS_B}:8080/redirected", f"/wild=http://x1.wild.{ZONE}:8080/wild"],
        )
        made.append(a_parts)
        _wait_answering(port)
        yield Lab(a=a, b=b, nameserver=f"127.0.0.1:{port}")
    finally:
        zone.terminate()
        for server, namespace, outer in made:
            server.terminate()
            server.wait(timeout=5)
            subprocess.run(["ip", "link", "del", outer], capture_output=True, check=False)
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


@pytest.fixture
def wander(settings: Any, require_docker: Any) -> str:
    """The `wander` test tool registered, run by the Docker executor in the test images."""
    from scans.engine.sandbox.link import sandbox_unsupported
    from tests.scans.tools.conftest import build_test_images

    reason = sandbox_unsupported()
    if reason:
        service_unavailable("netns", reason)
    images = build_test_images()
    settings.NODE_PACKAGES = [*settings.NODE_PACKAGES, "tests.scans.sandbox.tools"]
    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "wander": images["busybox"]}
    settings.SCOPE_SANDBOX_IMAGE = images["busybox"]
    settings.SCAN_EXECUTOR = "docker"
    return "wander"
