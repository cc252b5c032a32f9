"""Every format: the report its tool writes when it finds nothing imports as a completed scan
with no finding, and a report cut off in the middle (an interrupted upload or copy) is refused
with a message a person understands, never a parser's internals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scans.imports.detection import ReportUnrecognised, empty_form, report_detect
from scans.imports.services import ImportRefused, ReportFile, report_read
from scans.models import Scan
from scans.tools import report_formats
from tests.scanning import SCANNER_OUTPUTS
from tests.scans.imports.conftest import upload
from tests.scans.imports.test_every_sample import SAMPLES


def _sarif(driver: str) -> bytes:
    return json.dumps(
        {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": driver}}, "results": []}]}
    ).encode()


def _bom(producer: str) -> bytes:
    tools = [{"name": producer}] if producer else []
    return json.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "metadata": {"tools": tools},
            "components": [],
        }
    ).encode()


def sample(relative: str) -> bytes:
    return (SCANNER_OUTPUTS / relative).read_bytes()


# What each format's tool writes when it finds nothing: its real clean reports where the samples
# have one, else the document the tool writes (its header, its envelope with no entries).
EMPTY = {
    "nmap-xml": lambda: (
        b'<?xml version="1.0"?><nmaprun scanner="nmap"><runstats><hosts up="0" down="1" total="1"/></runstats></nmaprun>'
    ),
    "nmap-grepable": lambda: (
        b"# Nmap 7.94 scan initiated as: nmap -oG - 127.0.0.1\n# Nmap done -- 1 IP address (0 hosts up)\n"
    ),
    "masscan-json": lambda: b"[\n]\n",
    "masscan-ndjson": lambda: b"",
    "masscan-list": lambda: b"#masscan\n# end\n",
    "naabu-json": lambda: b"",
    "ffuf-json": lambda: sample("ffuf/ffuf_no_vuln.json"),
    "gobuster-text": lambda: sample("gobuster/gobuster_no_vuln.txt"),
    "dirsearch-json": lambda: (
        b'{"info": {"args": "dirsearch -u http://127.0.0.1/ --format=json", "time": "x"}, "results": []}'
    ),
    "whatweb-json": lambda: b"[\n]\n",
    "dnsrecon-json": lambda: (
        b'[{"arguments": "dnsrecon -d example.com -t axfr", "date": "2026-12-02", "type": "ScanInfo"}]'
    ),
    "wafw00f-json": lambda: (
        b'[{"url": "http://127.0.0.1/", "detected": false, "firewall": "None", "manufacturer": "None"}]'
    ),
    "testssl-csv": lambda: (
        b'"id","fqdn/ip","port","severity","finding","cve","cwe"\n"SSLv2","localhost/127.0.0.1","443","OK","not offered","",""\n'
    ),
    "testssl-json": lambda: b"[]",
    "sslscan-xml": lambda: (
        b'<?xml version="1.0"?><document title="SSLScan Results" version="2.0"><ssltest host="localhost" port="443"><heartbleed sslversion="TLSv1.2" vulnerable="0"/></ssltest></document>'
    ),
    "httpx-json": lambda: b"",
    "sslyze-json": lambda: sample("sslyze/one_target_zero_vuln_new.json"),
    "sslyze-xml": lambda: (
        b'<?xml version="1.0"?><document SSLyzeVersion="2.1.4" title="SSLyze Scan Results"><results/></document>'
    ),
    "trivy-json": lambda: sample("trivy/scheme_2_no_vuln.json"),
    "trivy-k8s": lambda: b'{"ClusterName": "kind", "Resources": []}',
    "trivy-sarif": lambda: _sarif("Trivy"),
    "trivy-cyclonedx": lambda: _bom("trivy"),
    "trivy-operator-json": lambda: sample("trivy_operator/vulnerabilityreport_no_vuln.json"),
    "grype-json": lambda: sample("grype/no_vuln.json"),
    "grype-sarif": lambda: _sarif("Grype"),
    "grype-cyclonedx": lambda: _bom("grype"),
    "gitleaks-json": lambda: sample("gitleaks/no_findings.json"),
    "gitleaks-sarif": lambda: _sarif("gitleaks"),
    "gitleaks-csv": lambda: (
        b"RuleID,Commit,File,SymlinkFile,Secret,Match,StartLine,EndLine,StartColumn,EndColumn,Author,Message,Date,Email,Fingerprint,Tags\n"
    ),
    "nuclei-jsonl": lambda: sample("nuclei/empty.jsonl"),
    "zap-xml": lambda: (
        b'<?xml version="1.0"?><OWASPZAPReport version="2.14.0"><site name="http://127.0.0.1" host="127.0.0.1" port="80" ssl="false"><alerts></alerts></site></OWASPZAPReport>'
    ),
    "zap-json": lambda: b'{"@programName": "ZAP", "@version": "2.14.0", "site": []}',
    "burp-xml": lambda: (
        b'<?xml version="1.0"?><issues burpVersion="2023.10" exportTime="x"></issues>'
    ),
    "nessus-xml": lambda: sample("tenable/nessus_was/nessus_was_no_vuln.xml"),
    "nessus-csv": lambda: sample("tenable/nessus_was/nessus_was_no_vuln.csv"),
    "openvas-xml": lambda: sample("openvas/no_vuln.xml"),
    "openvas-csv": lambda: sample("openvas/no_vuln.csv"),
    "nikto-xml": lambda: sample("nikto/nikto-report-zero-vuln.xml"),
    "nikto-json": lambda: (
        b'[{"host": "127.0.0.1", "ip": "127.0.0.1", "port": "80", "banner": "", "vulnerabilities": []}]'
    ),
    "semgrep-json": lambda: (
        b'{"results": [], "errors": [], "paths": {"scanned": []}, "version": "1.50.0"}'
    ),
    "semgrep-sarif": lambda: _sarif("Semgrep OSS"),
    "osv-scanner-json": lambda: sample("osv_scanner/no_findings.json"),
    "wpscan-json": lambda: (
        b'{"banner": {"description": "WordPress Security Scanner by the WPScan Team"}, "target_url": "http://127.0.0.1/", "effective_url": "http://127.0.0.1/", "interesting_findings": []}'
    ),
    "trufflehog-json": lambda: b"",
    "sarif": lambda: sample("sarif/appendix_k1.sarif"),
    "cyclonedx": lambda: _bom(""),
}
FORMATS = [(tool.type, fmt.name) for tool, fmt in report_formats()]


def test_every_format_has_its_empty_report() -> None:
    assert {name for _, name in FORMATS} == set(EMPTY)


@pytest.mark.django_db
@pytest.mark.parametrize(("tool", "name"), FORMATS, ids=[name for _, name in FORMATS])
def test_the_empty_report_of_each_format_is_a_completed_scan_with_no_finding(
    owner_api: Any, tool: str, name: str
) -> None:
    data = EMPTY[name]()

    answer = upload(owner_api, data, tool)

    assert answer.status_code == 201, answer.content
    assert answer.json()["findings"] == 0
    if not empty_form(data):
        assert answer.json()["formats"] == [name]
    assert Scan.objects.get().status == "completed"


# Formats with no end marker: a cut-off CSV or text report ends on a complete line and reads as
# a shorter report (the refusal cannot know). The rest are refused.
UNMARKED = {
    "testssl-csv",
    "nessus-csv",
    "openvas-csv",
    "gitleaks-csv",
    "gobuster-text",
    "masscan-list",
    "nmap-grepable",
}
INTERNALS = ("Expecting", "char ", "Traceback", "Error", "line 1 column", "KeyError")


def _largest_samples() -> dict[str, Path]:
    largest: dict[str, Path] = {}
    for path in SAMPLES:
        data = path.read_bytes()
        if empty_form(data):
            continue
        try:
            name = report_detect(data).format.name
        except ReportUnrecognised:
            continue
        if name not in largest or largest[name].stat().st_size < len(data):
            largest[name] = path
    return largest


LARGEST = sorted((name, path) for name, path in _largest_samples().items() if name not in UNMARKED)


@pytest.mark.parametrize(("name", "path"), LARGEST, ids=[name for name, _ in LARGEST])
def test_a_report_cut_off_in_the_middle_is_refused_in_words(name: str, path: Path) -> None:
    data = path.read_bytes()
    tool = report_detect(data).tool.type
    cut = data[: int(len(data) * 0.6)]

    with pytest.raises(ImportRefused) as refused:
        report_read(ReportFile(path.name, cut), tool=tool)

    message = " ".join(m for messages in refused.value.message_dict.values() for m in messages)
    assert ("cut off or damaged" in message) or ("Not a" in message), message
    assert not any(internal in message for internal in INTERNALS), message
