"""Fixtures for the container tool tests: the real scanner reports, and the local test images
(scripts/build-test-images, built once per session with `docker import`: no registry is
reachable, so the images are made from this machine's busybox-static and nmap)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import NotFound

from tests.conftest import service_unavailable
from tests.scanning import SCANNER_OUTPUTS

BUILD_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "build-test-images"
TEST_IMAGES = {
    "busybox": "outpost-test/busybox:1",
    "nmap": "outpost-test/nmap:1",
    # Stands in for Trivy: copies a real Trivy report (trivy/scheme_2_many_vulns.json, baked in at
    # build time) to --output, because no vulnerability database or registry is reachable.
    "trivy": "outpost-test/trivy-fake:1",
    # Stands in for nuclei (its templates come from the internet): one tech-detect result for -u.
    "nuclei": "outpost-test/nuclei-fake:1",
    # The recon tools, from Debian's packages (their binaries and the files they read).
    "ffuf": "outpost-test/ffuf:1",
    "sslscan": "outpost-test/sslscan:1",
    "whatweb": "outpost-test/whatweb:1",
    "wafw00f": "outpost-test/wafw00f:1",
    "dnsrecon": "outpost-test/dnsrecon:1",
    "testssl": "outpost-test/testssl:1",
    "masscan": "outpost-test/masscan:1",
    "gobuster": "outpost-test/gobuster:1",
}
# The recon tools reach the test's servers on 127.0.0.1: the host network, like nmap.
RECON_TOOLS = (
    "ffuf",
    "sslscan",
    "whatweb",
    "wafw00f",
    "dnsrecon",
    "testssl",
    "masscan",
    "gobuster",
)


def sample(relative: str) -> bytes:
    """A real report from shared/data/scanner-outputs."""
    path = SCANNER_OUTPUTS / relative
    if not path.is_file():
        pytest.fail(f"missing scanner output {path} (set OUTPOST_SCANNER_OUTPUTS)")
    return path.read_bytes()


@functools.cache
def build_test_images() -> dict[str, str]:
    """Builds (or finds up to date) the local test images once per process; tool -> image.
    Skips (fails in CI) when no Docker engine answers."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:
        service_unavailable("docker", f"no Docker engine answers ({type(exc).__name__})")
    done = subprocess.run(
        [str(BUILD_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OUTPOST_SCANNER_OUTPUTS": str(SCANNER_OUTPUTS)},
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/build-test-images failed:\n{done.stdout}\n{done.stderr}")
    return dict(TEST_IMAGES)


def trivy_expected(raw: bytes) -> tuple[int, Counter[str], set[str]]:
    """Count what a SchemaVersion 2 Trivy report holds, read straight from its JSON: distinct
    vulnerabilities (a package path repeated in a report is one finding), failed
    misconfigurations and secrets; their severities as Outpost names them; the rule ids."""
    document = json.loads(raw)
    assert document["SchemaVersion"] == 2
    vulnerabilities: dict[tuple[str, str, str], str] = {}
    others: list[tuple[str, str]] = []
    for result in document["Results"]:
        for vuln in result.get("Vulnerabilities") or []:
            key = (
                vuln["VulnerabilityID"],
                vuln["PkgName"],
                vuln.get("PkgPath") or result["Target"],
            )
            vulnerabilities[key] = vuln["Severity"]
        for misconfiguration in result.get("Misconfigurations") or []:
            if misconfiguration["Status"] == "FAIL":
                rule = misconfiguration.get("AVDID") or misconfiguration["ID"]
                others.append((rule, misconfiguration["Severity"]))
        for secret in result.get("Secrets") or []:
            others.append((secret["RuleID"], secret["Severity"]))
    severities = [*vulnerabilities.values(), *(severity for _, severity in others)]
    named = Counter("info" if s == "UNKNOWN" else s.lower() for s in severities)
    rules = {key[0] for key in vulnerabilities} | {rule for rule, _ in others}
    return len(severities), named, rules


@pytest.fixture(scope="session")
def test_images() -> dict[str, str]:
    """The local test images (scripts/build-test-images run once per session)."""
    return build_test_images()


@pytest.fixture
def tool_images_settings(settings: Any, test_images: dict[str, str]) -> Iterator[dict[str, str]]:
    """settings.TOOL_IMAGES pointed at the local images; nmap on the host network (bridge is
    disabled on test machines, and only 127.0.0.1 is ever scanned), the others without network;
    the tools' cache volumes are this test's own (prepared with the local busybox), removed
    afterwards."""
    settings.TOOL_IMAGES = {
        **settings.TOOL_IMAGES,
        "nmap": test_images["nmap"],
        "trivy": test_images["trivy"],
        **{tool: test_images[tool] for tool in RECON_TOOLS},
    }
    settings.TOOL_NETWORK = {
        **settings.TOOL_NETWORK,
        "nmap": "host",
        "trivy": "none",
        **dict.fromkeys(RECON_TOOLS, "host"),
    }
    settings.TOOL_IMAGE_CACHE_INIT = test_images["busybox"]
    prefix = f"outpost-test-{uuid.uuid4().hex[:10]}-"
    settings.TOOL_CACHE_VOLUME_PREFIX = prefix
    yield test_images
    client = docker.from_env()
    for volume in client.volumes.list(filters={"name": prefix}):
        with contextlib.suppress(NotFound):
            volume.remove(force=True)
