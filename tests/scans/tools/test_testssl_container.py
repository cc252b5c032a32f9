"""testssl.sh in its container (the local test image from Debian's testssl.sh, host network)
audits the real TLS 1.0-only server on 127.0.0.1 the sslscan test uses: the deprecated protocol
comes back as a finding from its JSON report, and TLS 1.2 (off) is not claimed offered."""

from __future__ import annotations

from typing import Any

from scans.engine.executors.docker import DockerExecutor
from scans.tools import testssl
from targets.items import Item
from tests.scans.tools.test_tls_audit_container import legacy_tls_port

__all__ = ["legacy_tls_port"]


def test_testssl_in_its_container_reports_tls_1_0(
    tool_images_settings: dict[str, str], step_context: Any, legacy_tls_port: int
) -> None:
    service = Item.service("127.0.0.1", legacy_tls_port)
    ctx = step_context(
        items=[service], executor=DockerExecutor(), timeout_s=300, config={"vulnerable": False}
    )

    result = testssl.run(ctx)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert run.executor == "docker" and run.image == tool_images_settings["testssl"]
    assert run.argv[0] == "testssl.sh" and run.argv[-1] == f"127.0.0.1:{legacy_tls_port}"
    assert "--vulnerable" not in run.argv
    by_rule = {f.rule_id: f for f in result.findings}
    assert "TLS1" in by_rule, sorted(by_rule)
    assert by_rule["TLS1"].severity in ("low", "medium")
    assert by_rule["TLS1"].location == service.value
    assert by_rule["TLS1"].title.startswith("TLS1: offered")
    # TLS 1.2 is off: testssl.sh rates its absence, never claims it is offered.
    assert "TLS1_2" not in by_rule or "not offered" in by_rule["TLS1_2"].title
    assert [p.name for p in result.artifacts] == ["testssl-1.json"]


def test_testssl_commands_take_tls_services_and_https_urls_only() -> None:
    items = [
        Item.service("127.0.0.1", 8443),
        Item.service("127.0.0.1", 53, "udp"),
        Item("url", "https://app.example.test/login"),
        Item("url", "http://app.example.test/"),
        Item("url", "https://-bad.example.test/"),
    ]
    argvs = [c.argv for c in testssl.commands({}, items)]
    assert [argv[-1] for argv in argvs] == ["127.0.0.1:8443", "app.example.test:443"]
    assert all("--vulnerable" in argv for argv in argvs)
    assert all(argv[argv.index("--jsonfile") + 1].startswith("/output/") for argv in argvs)
