"""Fixtures for the network sandbox's tests (a plugin for the whole suite, like tests/scanning.py).

Two "hosts" for the network sandbox's tests, each in a network namespace the test creates and
linked to the worker's namespace by a veth pair: A (authorized) and B (not), each serving HTTP
on ports 8080 and 9090 and logging every request. A redirects /go to B, and /wild to a name under the authorized domain that resolves to B. Their addresses
(198.19.231.2 and 198.19.232.2) exist only on these links, which are deleted afterwards; nothing
sent to them can leave the machine. A dnsmasq zone on 127.0.0.1 names them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_unavailable
from tests.scanning import _free_port

ROOT = Path(__file__).resolve().parent.parent
ADDRESS_A = "198.19.231.2"
ADDRESS_B = "198.19.232.2"
ZONE = "lab23.test"


@dataclass
class LabHost:
    namespace: str
    address: str
    log: Path

    def requests(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


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
    _ip("link", "set", outer, "up")
    _ip("-n", namespace, "addr", "add", f"198.19.{octet}.2/24", "dev", inner)
    _ip("-n", namespace, "link", "set", inner, "up")
    _ip("-n", namespace, "link", "set", "lo", "up")
    _ip("-n", namespace, "route", "add", "default", "via", f"198.19.{octet}.1")
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
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


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
        time.sleep(0.2)  # dnsmasq binds its port
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
