"""The CLI's tool list comes from the server (`outpost tools`, and `import --tool` checks it):
a tool written as one module on the server is known to the CLI without a CLI release."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli.conftest import CliRun
from tests.scanning import SCANNER_OUTPUTS


def test_the_cli_lists_the_servers_tools_including_one_added_as_a_module(
    outpost: Any, settings: Any
) -> None:
    before: CliRun = outpost("tools")
    assert before.code == 0, before.stderr
    listed = {line.split()[0] for line in before.stdout.splitlines()}
    assert {"trivy", "grype", "gitleaks", "nuclei", "nmap"} <= listed
    assert "echo_report" not in listed

    settings.NODE_PACKAGES = [*settings.NODE_PACKAGES, "tests.scans.tools.extra_tools"]
    after: CliRun = outpost("tools")

    assert "echo_report" in {line.split()[0] for line in after.stdout.splitlines()}


def test_import_refuses_a_tool_the_server_does_not_read(outpost: Any, tmp_path: Path) -> None:
    report = tmp_path / "skipfish.xml"
    report.write_text("<skipfish/>")

    refused: CliRun = outpost("import", "--tool", "skipfish", str(report))

    assert refused.code == 2
    assert "unknown tool 'skipfish'" in refused.stderr and "trivy" in refused.stderr


def test_import_without_a_tool_lets_the_server_detect_it(outpost: Any) -> None:
    report = SCANNER_OUTPUTS / "zap" / "zap-xml-plus-format.xml"

    imported: CliRun = outpost("import", str(report))

    assert imported.code == 0, imported.stderr
    assert "imported zap report zap-xml-plus-format.xml" in imported.stderr
