"""Capabilities a tool module declares (`Tool.capabilities`: masscan's NET_RAW) are what its
container gets back after `cap_drop=ALL`, nothing more, still under no-new-privileges on a
read-only root; a capability no tool may hold is refused before anything runs; and only the
tools that declare one get any."""

from __future__ import annotations

from typing import Any

from scans.tools import tools
from tests.scans.test_docker_executor import docker_client, run_label, sandbox, test_images

__all__ = ["docker_client", "run_label", "sandbox", "test_images"]
CAP_NET_RAW = 1 << 13


def _status(run: Any) -> dict[str, str]:
    fields = dict(line.split(":", 1) for line in run.stdout.decode().splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in fields.items()}


def test_a_tool_granted_net_raw_holds_that_capability_alone(sandbox: Any) -> None:
    run = sandbox(
        "echo uid: $(id -u); grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status;"
        " echo report > /output/report.txt && echo output: written",
        capabilities=("NET_RAW",),
    )

    assert run.ok, run.stderr
    status = _status(run)
    # Docker hands added capabilities to uid 0 only; that root holds NET_RAW and nothing else.
    assert status["uid"] == "0"
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(status[field], 16) == CAP_NET_RAW, (field, status[field])
    assert status["NoNewPrivs"] == "1"
    assert status["output"] == "written"


def test_the_root_of_a_capable_tool_cannot_write_its_root_filesystem_or_chown(
    sandbox: Any,
) -> None:
    run = sandbox(
        "(echo pwned > /pwned && echo wrote-root) ; echo x > /tmp/x;"
        " (chown 65534 /tmp/x && echo chowned)",
        capabilities=("NET_RAW",),
    )

    out = run.stdout.decode()
    assert "wrote-root" not in out and "chowned" not in out
    assert b"Read-only file system" in run.stderr


def test_a_capability_no_tool_may_hold_is_refused_before_anything_runs(sandbox: Any) -> None:
    run = sandbox("echo ran", capabilities=("NET_RAW", "SYS_ADMIN"))

    assert run.exit_code is None and run.stdout == b""
    assert run.error == "capabilities not grantable to a tool: SYS_ADMIN"


def test_only_masscan_declares_a_capability() -> None:
    granted = {tool.type: tool.capabilities for tool in tools() if tool.capabilities}

    assert granted == {"masscan": ("NET_RAW",)}
