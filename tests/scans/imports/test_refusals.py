"""What a new user saw importing real reports (issue #18), as tests: reports of the right tool
that were refused, reports of another tool that passed as clean scans, and messages that were a
parser's internals. Every refusal is a 400 that names what the file looks like."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scans.models import Finding, Scan
from tests.scans.imports.conftest import upload
from tests.scans.tools.conftest import sample

pytestmark = [pytest.mark.django_db]


def test_a_trivy_k8s_cluster_report_imports_with_its_resources(owner_api: Any) -> None:
    data = sample("trivy/kubernetes_fabricated_subset.json")
    raw = json.loads(data)
    resources = [r for key in ("Vulnerabilities", "Misconfigurations") for r in raw[key]]
    expected = sum(
        len(result.get("Vulnerabilities") or [])
        + sum(1 for m in result.get("Misconfigurations") or [] if m.get("Status", "FAIL") == "FAIL")
        for resource in resources
        for result in resource["Results"]
    )

    answer = upload(owner_api, data, "trivy")

    assert answer.status_code == 201, answer.content
    assert answer.json()["findings"] == expected > 0
    assert answer.json()["formats"] == ["trivy-k8s"]
    finding = Finding.objects.filter(rule_id="KSV001").first()
    assert finding is not None
    assert finding.evidence["namespace"] == "default"
    assert finding.evidence["kind"] == "Deployment"
    assert "default/Deployment/" in finding.location


def test_nuclei_camel_case_output_imports(owner_api: Any) -> None:
    data = sample("nuclei/invalid_cwe.json")
    records = [json.loads(line) for line in data.splitlines() if line.strip()]

    answer = upload(owner_api, data, "nuclei")

    assert answer.status_code == 201, answer.content
    assert answer.json()["findings"] == len(records)
    finding = Finding.objects.get()
    assert finding.rule_id == records[0]["templateID"]
    assert finding.location == records[0]["matched"]


@pytest.mark.parametrize(
    ("tool", "data"),
    [
        ("nuclei", b""),
        ("nuclei", b"\n"),
        ("nuclei", b"[]"),
        ("trivy", b"null"),
        ("gitleaks", b"[]"),
    ],
)
def test_the_empty_report_a_clean_run_writes_is_a_completed_scan(
    owner_api: Any, tool: str, data: bytes
) -> None:
    answer = upload(owner_api, data, tool)

    assert answer.status_code == 201, answer.content
    assert answer.json()["findings"] == 0
    assert Scan.objects.get().status == "completed"


@pytest.mark.parametrize(
    ("name", "tool", "looks_like"),
    [
        ("gitleaks/gitleaks8_many.json", "trivy", "tool=gitleaks"),
        ("nuclei/multiple_v3.json", "trivy", "tool=nuclei"),
        ("trivy_operator/vulnerabilityreport_many.json", "trivy", "tool=trivy_operator"),
        ("nuclei/many_findings_new.json", "gitleaks", "tool=nuclei"),
        ("cyclonedx/grype.xml", "trivy", "tool=grype"),
    ],
)
def test_another_tools_report_is_refused_naming_that_tool(
    owner_api: Any, name: str, tool: str, looks_like: str
) -> None:
    answer = upload(owner_api, sample(name), tool)

    assert answer.status_code == 400, answer.content
    message = " ".join(answer.json()["errors"]["file"])
    assert "this looks like" in message and looks_like in message
    assert Scan.objects.count() == 0 and Finding.objects.count() == 0


def test_grypes_cyclonedx_xml_imports_as_grype(owner_api: Any) -> None:
    data = sample("cyclonedx/grype.xml")
    expected = data.count(b"<v:vulnerability ")

    answer = upload(owner_api, data, "grype")

    assert answer.status_code == 201, answer.content
    assert answer.json()["formats"] == ["grype-cyclonedx"]
    assert 0 < answer.json()["findings"] <= expected


@pytest.mark.parametrize(
    ("tool", "data", "says"),
    [
        ("trivy", b'{"SchemaVersion": 2, "Results": [{"Target": "x", "Vuln', "cut off or damaged"),
        ("nmap", b'<?xml version="1.0"?><nmaprun><host><address addr="1', "cut off or damaged"),
        ("nuclei", b'{"template-id": "a", "info": {}}\n{"template-id": "b", "inf', "line 2"),
        ("grype", b"\x00\x01\x02PK\x03\x04", "binary file"),
        ("gitleaks", b"hello, world", "Gitleaks JSON"),
    ],
)
def test_a_damaged_file_is_refused_in_words_not_a_parsers_internals(
    owner_api: Any, tool: str, data: bytes, says: str
) -> None:
    answer = upload(owner_api, data, tool)

    assert answer.status_code == 400, answer.content
    message = " ".join(answer.json()["errors"]["file"])
    assert says in message
    assert "Expecting" not in message and "char " not in message and "Error" not in message


def test_without_a_tool_the_format_is_detected(owner_api: Any) -> None:
    answer = upload(owner_api, sample("gitleaks/gitleaks8_many.json"))

    assert answer.status_code == 201, answer.content
    assert answer.json()["tools"] == ["gitleaks"] and answer.json()["formats"] == ["gitleaks-json"]


def test_without_a_tool_an_empty_file_asks_for_the_tool(owner_api: Any) -> None:
    answer = upload(owner_api, b"[]")

    assert answer.status_code == 400
    assert "choose the tool" in " ".join(answer.json()["errors"]["tool"])


def test_without_a_tool_an_unknown_document_says_what_it_is(owner_api: Any) -> None:
    answer = upload(owner_api, b'{"hello": 1, "world": 2}')

    assert answer.status_code == 400
    message = " ".join(answer.json()["errors"]["file"])
    assert "does not recognise" in message and "a JSON object with the keys hello, world" in message


def test_several_reports_of_one_ci_run_become_one_scan(owner_api: Any) -> None:
    files = [
        ("trivy.json", sample("trivy/scheme_2_many_vulns.json")),
        ("gitleaks.json", sample("gitleaks/gitleaks8_many.json")),
    ]

    answer = upload(owner_api, files)

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["tools"] == ["gitleaks", "trivy"]
    assert body["formats"] == ["trivy-json", "gitleaks-json"]
    scan = Scan.objects.get()
    assert scan.steps.count() == 2
    assert set(Finding.objects.values_list("tool", flat=True)) == {"trivy", "gitleaks"}


def test_one_bad_report_among_several_imports_nothing(owner_api: Any) -> None:
    files = [("trivy.json", sample("trivy/scheme_2_many_vulns.json")), ("bad.json", b"{")]

    answer = upload(owner_api, files)

    assert answer.status_code == 400
    assert "bad.json" in " ".join(answer.json()["errors"]["file"])
    assert Scan.objects.count() == 0 and Finding.objects.count() == 0


def test_a_gitleaks_csv_report_imports_with_the_secret_masked(owner_api: Any) -> None:
    secret = "ghp_" + "a1B2c3" * 6  # a made-up token, built here so no scanner flags the file
    report = (
        "RuleID,Commit,File,SymlinkFile,Secret,Match,StartLine,EndLine,StartColumn,EndColumn,"
        "Author,Message,Date,Email,Fingerprint,Tags\n"
        f"github-pat,abc123,app/settings.py,,{secret},token = {secret},12,12,9,49,dev,"
        f"add settings,2024-01-01T00:00:00Z,dev@example.test,abc123:app/settings.py:github-pat:12,\n"
    ).encode()

    answer = upload(owner_api, report)

    assert answer.status_code == 201, answer.content
    assert answer.json()["formats"] == ["gitleaks-csv"] and answer.json()["findings"] == 1
    finding = Finding.objects.get()
    assert finding.rule_id == "github-pat" and finding.location == "app/settings.py:12"
    assert finding.severity == "high" and finding.evidence["secret"] == "ghp_***"
    stored = json.dumps([finding.title, finding.description, finding.location, finding.evidence])
    assert secret not in stored
