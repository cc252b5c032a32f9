"""The backbone of report import: every real report under shared/data/scanner-outputs is
recognised as the tool that wrote it with no tool given, reads without a refusal, and is refused
naming that tool when sent as another tool's. What each file is (the expected tool) is worked out
here from the folder it is in and, for the generic formats, from the file itself (the SARIF
driver, the CycloneDX producer)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scans.imports.detection import ReportUnrecognised, empty_form, report_detect
from scans.tools import report_parse
from tests.scanning import SCANNER_OUTPUTS

pytestmark = [pytest.mark.smoke]

# Folder -> the tool that wrote its reports (the generic folders are decided per file below).
FOLDERS = {
    "trivy": "trivy",
    "grype": "grype",
    "gitleaks": "gitleaks",
    "nmap": "nmap",
    "nuclei": "nuclei",
    "trivy_operator": "trivy_operator",
    "masscan": "masscan",
    "ffuf": "ffuf",
    "gobuster": "gobuster",
    "whatweb": "whatweb",
    "testssl": "testssl",
    "sslscan": "sslscan",
    "sarif": "sarif",
    "cyclonedx": "cyclonedx",
    "zap": "zap",
    "burp": "burp",
    "tenable": "nessus",
    "openvas": "openvas",
    "nikto": "nikto",
    "wpscan": "wpscan",
    "sslyze": "sslyze",
    "naabu": "naabu",
    "httpx": "httpx",
    "dirsearch": "dirsearch",
    "semgrep": "semgrep",
    "trufflehog": "trufflehog",
    "osv_scanner": "osv_scanner",
}
# Reports of runs that did not happen: refused with the tool's own reason, never a clean scan.
FAILED_RUNS = {
    "wpscan/empty.json": "WPScan aborted this scan",
    "testssl/failed_target.csv": "could not test the target",
}
# SARIF drivers and CycloneDX producers whose tools Outpost knows: their files are that tool's.
OWN_SARIF = {"trivy": "trivy", "grype": "grype", "gitleaks": "gitleaks", "semgrep": "semgrep"}
OWN_CYCLONEDX = {"trivy": "trivy", "grype": "grype"}


def _inputs_not_reports(path: Path) -> bool:
    # The wordlists the content-discovery reports were made with sit beside them.
    return "wordlist" in path.name


SAMPLES = sorted(
    path
    for folder in FOLDERS
    for path in (SCANNER_OUTPUTS / folder).rglob("*")
    if path.is_file() and not _inputs_not_reports(path)
)


def expected_tool(path: Path) -> str:
    folder = path.relative_to(SCANNER_OUTPUTS).parts[0]
    data = path.read_bytes()
    if folder == "sarif":
        drivers = {run["tool"]["driver"]["name"].lower() for run in json.loads(data)["runs"]}
        owners = {OWN_SARIF.get(name) for name in drivers}
        owner = owners.pop() if len(owners) == 1 else None
        return owner or "sarif"
    if folder == "cyclonedx":
        head = data[:8192].decode(errors="replace")
        producers = set(re.findall(r'"name":\s*"(\w+)"|<name>(\w+)</name>', head[:3000]))
        names = {a or b for a, b in producers} & set(OWN_CYCLONEDX)
        return OWN_CYCLONEDX[names.pop()] if len(names) == 1 else "cyclonedx"
    return FOLDERS[folder]


def test_the_samples_are_there_and_every_folder_is_read_by_a_tool() -> None:
    assert len(SAMPLES) > 150, SCANNER_OUTPUTS
    assert {p.name for p in SCANNER_OUTPUTS.iterdir() if p.is_dir()} == set(FOLDERS)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(SCANNER_OUTPUTS)))
def test_with_no_tool_given_each_sample_is_detected_as_its_tool_and_reads(path: Path) -> None:
    data = path.read_bytes()
    tool = expected_tool(path)
    if empty_form(data):
        # An empty file or a bare [] / null says nothing of its tool: it asks for one, and is a
        # clean report of the tool that writes it.
        with pytest.raises(ReportUnrecognised, match="choose the tool"):
            report_detect(data)
        assert report_detect(data, tool).is_empty
        return

    detected = report_detect(data)

    assert detected.tool.type == tool, detected.name
    refusal = FAILED_RUNS.get(str(path.relative_to(SCANNER_OUTPUTS)))
    if refusal:
        with pytest.raises(ValueError, match=refusal):
            report_parse(detected.tool, detected.format, data)
        return
    parsed = report_parse(detected.tool, detected.format, data)
    assert isinstance(parsed.findings, list)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(SCANNER_OUTPUTS)))
def test_sent_as_another_tool_each_sample_is_refused_naming_its_tool(path: Path) -> None:
    data = path.read_bytes()
    tool = expected_tool(path)
    wrong = "nmap" if tool != "nmap" else "trivy"

    with pytest.raises(ReportUnrecognised) as refused:
        report_detect(data, wrong)

    if not empty_form(data):
        assert f"choose tool={tool}" in str(refused.value), str(refused.value)
