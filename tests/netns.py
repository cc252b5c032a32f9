"""A private network namespace for tests that need addresses the machine must never reach: only
a loopback interface (with whatever addresses the test adds) and its own /etc/resolv.conf, so
nothing sent inside can leave the machine. Needs root and `ip netns` (iproute2); skips (fails
in CI, where OUTPOST_REQUIRE_SERVICES names `netns`) otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import service_unavailable

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Netns:
    name: str

    def python(
        self, module: str, *args: str, env: dict[str, str] | None = None, timeout_s: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `python -m module args…` of this project inside the namespace."""
        return subprocess.run(
            ["ip", "netns", "exec", self.name, sys.executable, "-m", module, *args],
            cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
            timeout=timeout_s, check=False,
        )  # fmt: skip


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=10)


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A namespace with `lo` up and `nameserver 127.0.0.1` (a DNS server the test runs inside)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        service_unavailable("netns", "network namespaces need root and iproute2")
    name = f"outpost-t-{uuid.uuid4().hex[:10]}"
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        service_unavailable("netns", f"ip netns add failed: {made.stderr.strip()}")
    config = Path("/etc/netns") / name
    try:
        config.mkdir(parents=True, exist_ok=True)
        (config / "resolv.conf").write_text("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
        assert _ip("-n", name, "link", "set", "lo", "up").returncode == 0
        yield Netns(name)
    finally:
        _ip("netns", "del", name)
        shutil.rmtree(config, ignore_errors=True)
