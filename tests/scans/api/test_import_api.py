"""`POST /api/v1/scans/import`: a report a scanner already wrote becomes a completed scan.

The reports are the real ones in shared/data/scanner-outputs; the counts the tests expect are
worked out here from the raw JSON, not taken from the parser under test."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role, Team
from scans.models import Finding, Scan
from tests.scans.tools.conftest import sample, trivy_expected

pytestmark = [pytest.mark.django_db]

IMPORT_URL = "/api/v1/scans/import"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<nmaprun scanner="nmap" xmloutputversion="1.05">
  <host><address addr="127.0.0.1" addrtype="ipv4"/><hostnames><hostname name="&lol9;" type="user"/></hostnames>
    <ports><port protocol="tcp" portid="80"><state state="open"/><service name="http"/></port></ports>
  </host>
</nmaprun>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE nmaprun [ <!ENTITY passwd SYSTEM "file:///etc/passwd"> ]>
<nmaprun scanner="nmap" xmloutputversion="1.05">
  <host><address addr="127.0.0.1" addrtype="ipv4"/><hostnames><hostname name="&passwd;" type="user"/></hostnames>
    <ports><port protocol="tcp" portid="80"><state state="open"/><service name="http" product="&passwd;"/></port></ports>
  </host>
</nmaprun>
"""


@pytest.fixture(autouse=True)
def private_artifacts(settings: Any, tmp_path: Path) -> Path:
    """Imported reports are kept as artifacts; in a folder of this test's own, since scan ids
    start at 1 in every test database and var/artifacts is shared by every run of this checkout."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR.mkdir()
    return Path(settings.ARTIFACTS_DIR)


def _upload(client: Any, tool: str, data: bytes, name: str = "report.json", **fields: str) -> Any:
    body = {"tool": tool, "file": SimpleUploadedFile(name, data), **fields}
    return client.post(IMPORT_URL, body, format="multipart")


@pytest.mark.parametrize(
    "report", ["trivy/scheme_2_many_vulns.json", "trivy/misconfigurations_and_secrets.json"]
)
def test_importing_a_real_trivy_report_creates_a_completed_scan_with_every_finding(
    owner_api: Any, team: Team, report: str, private_artifacts: Path
) -> None:
    raw = sample(report)
    expected, severities, rules = trivy_expected(raw)
    assert expected > 0

    answer = _upload(owner_api, "trivy", raw, name=Path(report).name, target="registry.test/app:1")

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert answer["Location"] == f"/api/v1/scans/{body['scan_id']}"
    assert body["status"] == "completed"
    assert body["findings"] == expected
    assert {k: v for k, v in body["severity_counts"].items() if v} == dict(severities)
    assert body["new"] == expected and body["still_open"] == 0 and body["fixed"] == 0
    assert body["previous_scan"] is None

    detail = owner_api.get(f"/api/v1/scans/{body['scan_id']}")
    assert detail.status_code == 200
    assert detail.json()["status"] == "completed"
    assert detail.json()["source"] == "import"
    assert detail.json()["findings_count"] == expected
    assert detail.json()["target_snapshot"] == [{"kind": "import", "value": "registry.test/app:1"}]
    [step] = detail.json()["steps"]
    assert (step["executor"], step["attempt"], step["max_attempts"]) == ("import", 1, 1)
    listed = owner_api.get(f"/api/v1/scans/{body['scan_id']}/findings?page_size=100").json()
    assert listed["count"] == expected
    assert {f["rule_id"] for f in listed["results"]} == rules
    assert {f["tool"] for f in listed["results"]} == {"trivy"}
    assert Finding.objects.filter(scan_id=body["scan_id"], scan__team=team).count() == expected
    # The report itself is kept, byte for byte, as the scan's artifact.
    kept = private_artifacts / f"scan-{body['scan_id']}" / "import" / Path(report).name
    assert kept.read_bytes() == raw


def test_importing_the_same_report_twice_finds_nothing_new_and_everything_still_open(
    owner_api: Any,
) -> None:
    raw = sample("trivy/scheme_2_many_vulns.json")
    fields = {"target": "registry.test/app:1", "workflow": "nightly"}

    first = _upload(owner_api, "trivy", raw, **fields)
    second = _upload(owner_api, "trivy", raw, **fields)

    assert first.status_code == 201 and second.status_code == 201, second.json()
    n = first.json()["findings"]
    assert n == trivy_expected(raw)[0]
    assert second.json()["scan_id"] != first.json()["scan_id"]
    assert second.json()["findings"] == n
    assert second.json()["new"] == 0
    assert second.json()["still_open"] == n
    assert second.json()["fixed"] == 0
    assert second.json()["previous_scan"] == first.json()["scan_id"]
    diff = owner_api.get(f"/api/v1/scans/{second.json()['scan_id']}/diff").json()
    assert diff["previous_scan"] == first.json()["scan_id"]
    assert diff["counts"] == {"new": 0, "fixed": 0, "still_open": n}


def test_it_refuses_an_unknown_tool_an_empty_a_corrupt_or_a_wrong_tool_file(
    owner_api: Any,
) -> None:
    gitleaks_report = sample("gitleaks/gitleaks8_many.json")
    grype_report = sample("grype/many_vulns4.json")
    cases: list[tuple[str, bytes, str, str]] = [
        # tool, file, the field the error is on, what the error must say
        ("skipfish", sample("trivy/scheme_2_many_vulns.json"), "tool", "skipfish"),
        # The refusal lists the tools Outpost reads.
        *[("skipfish", b"{}", "tool", name) for name in ("nmap", "trivy", "gitleaks", "masscan")],
        ("trivy", b"", "file", "empty"),
        ("trivy", b" \n\t\n", "file", "empty"),
        ("trivy", b"{not json", "file", "trivy"),
        ("nmap", gitleaks_report, "file", "nmap"),
        ("trivy", grype_report, "file", "trivy"),
        # JSON nested past what the decoder recurses into (was a 500: RecursionError).
        *[
            (tool, b"[" * 100_000, "file", "nested too deeply")
            for tool in ("trivy", "grype", "gitleaks", "nuclei")
        ],
    ]
    for tool, data, field, says in cases:
        answer = _upload(owner_api, tool, data)
        assert answer.status_code == 400, (tool, data[:40], answer.content)
        body = answer.json()
        assert says in body["detail"].lower(), (tool, body)
        assert says in " ".join(body["errors"][field]).lower(), (tool, body)

    without_file = owner_api.post(IMPORT_URL, {"tool": "trivy"}, format="multipart")
    assert without_file.status_code == 400 and "file" in without_file.json()["errors"]
    assert Scan.objects.count() == 0
    assert Finding.objects.count() == 0


@pytest.mark.parametrize(
    "xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"]
)
def test_an_nmap_report_with_xml_entities_is_refused_unexpanded(owner_api: Any, xml: bytes) -> None:
    passwd = Path("/etc/passwd").read_text()
    first_line = passwd.splitlines()[0]
    assert first_line  # what a leak would show: "root:x:0:0:…"

    answer = _upload(owner_api, "nmap", xml, name="nmap.xml", target="127.0.0.1")

    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert "nmap" in " ".join(body["errors"]["file"])
    assert "entit" in body["detail"].lower(), body
    assert first_line not in answer.content.decode()
    assert "lollollol" not in answer.content.decode()
    assert Scan.objects.count() == 0
    listed = owner_api.get("/api/v1/scans")
    assert listed.json()["count"] == 0
    assert first_line not in listed.content.decode()


def test_a_report_over_the_size_limit_is_refused_with_413_naming_the_sizes(
    owner_api: Any, settings: Any
) -> None:
    settings.IMPORT_MAX_BYTES = 1024
    raw = sample("trivy/scheme_2_many_vulns.json")
    assert len(raw) > 1024

    answer = _upload(owner_api, "trivy", raw)

    assert answer.status_code == 413, answer.content
    detail = answer.json()["detail"]
    assert "1024 bytes" in detail
    sizes = [int(n) for n in re.findall(r"(\d+) bytes", detail)]
    assert any(size >= len(raw) for size in sizes), detail
    assert Scan.objects.count() == 0

    # The same report under a limit that fits it (with the multipart envelope) is taken.
    settings.IMPORT_MAX_BYTES = len(raw) + 4096
    assert _upload(owner_api, "trivy", raw).status_code == 201
    assert Scan.objects.count() == 1


def test_a_viewer_cannot_import_and_nobody_can_without_credentials(
    team: Team, make_member: Any, issue_key: Any, api: Any
) -> None:
    raw = sample("trivy/scheme_2_many_vulns.json")
    viewer = api(issue_key(make_member(team, Role.VIEWER), team).raw_key)

    refused = _upload(viewer, "trivy", raw)
    anonymous = _upload(api(), "trivy", raw)
    wrong_key = _upload(api("opk_not-a-real-key"), "trivy", raw)

    assert refused.status_code == 403, refused.content
    assert refused.json()["detail"]
    assert anonymous.status_code == 401, anonymous.content
    assert anonymous.json()["detail"]
    assert wrong_key.status_code == 401, wrong_key.content
    assert Scan.objects.count() == 0


def test_another_team_cannot_read_an_imported_scan(
    owner_api: Any, make_user: Any, issue_key: Any, api: Any
) -> None:
    scan_id = _upload(owner_api, "trivy", sample("trivy/scheme_2_many_vulns.json")).json()[
        "scan_id"
    ]
    stranger = make_user("stranger@example.test")
    theirs = api(issue_key(stranger, Team.objects.get(personal_owner=stranger)).raw_key)

    for path in (
        f"/api/v1/scans/{scan_id}",
        f"/api/v1/scans/{scan_id}?format=table",
        f"/api/v1/scans/{scan_id}/findings",
        f"/api/v1/scans/{scan_id}/diff",
    ):
        assert theirs.get(path).status_code == 404, path
    assert theirs.delete(f"/api/v1/scans/{scan_id}").status_code == 404
    assert theirs.get("/api/v1/scans").json()["count"] == 0
    assert owner_api.get(f"/api/v1/scans/{scan_id}").status_code == 200
