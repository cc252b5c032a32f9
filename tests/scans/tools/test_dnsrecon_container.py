"""dnsrecon in its container (the local test image from Debian's dnsrecon and Python, host
network) against nsd serving the corp zone (tests/dns_zone.py) on 127.0.0.1:53 — dnsrecon asks
no other port, so the test is skipped when port 53 is taken: the zone transfer hands out every
name and is a finding, the brute force of the bundled wordlist finds the names past the
wildcard."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scans.engine.executors.docker import DockerExecutor
from scans.tools import dnsrecon
from scans.tools.kit.dns_bulk import is_under
from targets.items import Item
from tests.dns_zone import CORP_DOMAIN, CORP_ZONE, start_nsd


@pytest.fixture
def zone_on_port_53() -> Iterator[None]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", 53))
        except OSError:
            pytest.skip("127.0.0.1:53 is taken (dnsrecon cannot ask another port)")
    folder = Path(tempfile.mkdtemp(prefix="outpost-nsd53-"))
    process, _port = start_nsd(CORP_ZONE, CORP_DOMAIN, folder, port=53)
    yield
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


def test_dnsrecon_in_its_container_transfers_the_zone_and_brute_forces_names(
    tool_images_settings: dict[str, str], step_context: Any, zone_on_port_53: None, settings: Any
) -> None:
    # The name server is the worker's own loopback, which a network sandbox (made for a domain
    # target) cannot reach: this run goes without one, on the host network.
    settings.SCOPE_ENFORCEMENT = "off"
    ctx = step_context(
        config={"nameserver": "127.0.0.1"},
        items=[Item("host", CORP_DOMAIN)],
        in_scope=lambda item: is_under(item.value, CORP_DOMAIN) or item.value == "127.0.0.1",
        executor=DockerExecutor(),
        timeout_s=300,
    )

    result = dnsrecon.run(ctx)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert run.executor == "docker" and run.image == tool_images_settings["dnsrecon"]
    names = {item.value: item.attrs for item in result.items}
    assert names[f"zz-build-7f3.{CORP_DOMAIN}"]["addresses"] == ["127.0.0.6"]  # zone transfer
    assert names[f"www.{CORP_DOMAIN}"]["addresses"] == ["127.0.0.1"]
    assert f"dc-ldap-9q.{CORP_DOMAIN}" in names
    [transfer] = result.findings
    assert transfer.rule_id == "dns-zone-transfer" and transfer.severity == "medium"
    assert transfer.location == "127.0.0.1:53"
