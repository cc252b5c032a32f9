"""sslscan in its container (the local test image from Debian's sslscan, host network) audits a
real TLS server on 127.0.0.1 that offers only TLS 1.0 (OpenSSL's s_server at security level 0,
with a self-signed certificate): the deprecated protocol and the certificate become findings."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scans.engine.executors.docker import DockerExecutor
from scans.tools import sslscan
from targets.items import Item


@pytest.fixture
def legacy_tls_port(tmp_path: Path) -> Iterator[int]:
    """`openssl s_server` accepting TLS 1.0 only."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=legacy.outpost.test"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert),
         "-key", str(key), "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0", "-www", "-quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("openssl s_server did not start")
            time.sleep(0.1)
    yield port
    server.terminate()
    server.wait(timeout=10)


def test_sslscan_in_its_container_reports_tls_1_0_and_the_self_signed_certificate(
    tool_images_settings: dict[str, str], step_context: Any, legacy_tls_port: int
) -> None:
    service = Item.service("127.0.0.1", legacy_tls_port)
    ctx = step_context(items=[service], executor=DockerExecutor(), timeout_s=180)

    result = sslscan.run(ctx)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert run.executor == "docker" and run.image == tool_images_settings["sslscan"]
    assert run.argv[-1] == f"127.0.0.1:{legacy_tls_port}"
    by_title = {f.title: f for f in result.findings}
    assert any("TLS 1.0" in t or "TLSv1.0" in t for t in by_title), sorted(by_title)
    old = next(f for t, f in by_title.items() if "1.0" in t)
    assert old.severity == "low" and old.location == service.value
    assert any("self-signed" in t.lower() for t in by_title), sorted(by_title)
    assert not any("1.2" in t for t in by_title)  # TLS 1.2 is off: nothing claims it
    assert [p.name for p in result.artifacts] == ["sslscan-1.xml"]
