"""Reports written on this machine by the real tools, against a local server on 127.0.0.1 only:
nmap's grepable output (`-oG`), which no sample in the shared folder has, is detected and read
with no tool given. Skips (fails in CI) when nmap is not installed."""

from __future__ import annotations

import shutil
import subprocess

from scans.imports.detection import report_detect
from scans.tools import report_parse
from tests.conftest import service_unavailable
from tests.scanning import LocalHttpServer


def nmap() -> str:
    found = shutil.which("nmap")
    if not found:
        service_unavailable("nmap", "no nmap on this machine")
    return str(found)


def test_nmap_grepable_output_of_a_real_scan_is_detected_and_read(
    http_server: LocalHttpServer,
) -> None:
    closed = http_server.port + 1 if http_server.port < 65535 else http_server.port - 1
    run = subprocess.run(
        [nmap(), "-sT", "-Pn", "-n", "-p", f"{http_server.port},{closed}", "-oG", "-", "127.0.0.1"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    report = run.stdout

    detected = report_detect(report)
    parsed = report_parse(detected.tool, detected.format, report)

    assert (detected.tool.type, detected.format.name) == ("nmap", "nmap-grepable")
    assert [item.value for item in parsed.items] == [f"127.0.0.1:{http_server.port}/tcp"]
    [finding] = parsed.findings
    assert (
        finding.rule_id == "open-port" and finding.location == f"127.0.0.1:{http_server.port}/tcp"
    )
