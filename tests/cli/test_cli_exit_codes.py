"""`outpost` exit codes against a live server: 0 ok, 1 findings at/above --fail-on, 2 usage or
refused request, 3 scan failed / unreachable. Imports make completed scans without a worker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from accounts.models import Team, User
from scans.models import Finding, Scan
from tests.cli.conftest import CliRun, assert_valid_sarif
from tests.deploy.conftest import free_port
from tests.scanning import SCANNER_OUTPUTS

TRIVY = SCANNER_OUTPUTS / "trivy"
# scheme_2_many_vulns.json: 1 critical, 1 high, 3 medium; legacy_many_vulns.json: 18 high, no
# critical; scheme_2_no_vuln.json: none.
Outpost = Callable[..., CliRun]


def test_import_fails_the_build_when_findings_reach_the_threshold(outpost: Outpost) -> None:
    run = outpost(
        "import", "--tool", "trivy", str(TRIVY / "scheme_2_many_vulns.json"), "--fail-on", "high"
    )
    assert run.code == 1, run.stderr
    assert "FAIL: 2 open findings at or above high (1 critical, 1 high)" in run.stderr
    assert "imported trivy report scheme_2_many_vulns.json" in run.stderr
    assert "CVE-" in run.stdout  # the table of findings on stdout


def test_findings_below_the_threshold_pass(outpost: Outpost) -> None:
    legacy = str(TRIVY / "legacy_many_vulns.json")
    assert outpost("import", "--tool", "trivy", legacy, "--fail-on", "critical").code == 0
    assert outpost("import", "--tool", "trivy", legacy, "--fail-on", "high").code == 1
    assert outpost("import", "--tool", "trivy", legacy, "--fail-on", "none").code == 0
    clean = outpost(
        "import", "--tool", "trivy", str(TRIVY / "scheme_2_no_vuln.json"), "--fail-on", "info"
    )
    assert clean.code == 0, clean.stderr
    assert "ok: no open findings at or above info" in clean.stderr


def test_triaged_findings_do_not_fail_the_build(outpost: Outpost, team: Team) -> None:
    first = outpost(
        "import", "--tool", "trivy", str(TRIVY / "scheme_2_many_vulns.json"), "--format", "json"
    )
    scan_id = first.json()["scan"]["id"]
    Scan.objects.get(pk=scan_id).findings.filter(severity__in=["critical", "high"]).update(
        status="accepted"
    )
    again = outpost("scan", "results", str(scan_id), "--fail-on", "high")
    assert again.code == 0, again.stderr
    assert outpost("scan", "results", str(scan_id), "--fail-on", "medium").code == 1


def test_sarif_output_validates_against_the_sarif_2_1_0_schema(
    outpost: Outpost, tmp_path: Path
) -> None:
    out = tmp_path / "results.sarif"
    run = outpost(
        "import", "--tool", "trivy", str(TRIVY / "scheme_2_many_vulns.json"),
        "--format", "sarif", "--output", str(out), "--fail-on", "critical",
    )  # fmt: skip
    assert run.code == 1
    log = json.loads(out.read_text())
    assert_valid_sarif(log)
    results = [r for run_ in log["runs"] for r in run_["results"]]
    assert len(results) == 5
    assert sorted(r["level"] for r in results) == [
        "error",
        "error",
        "warning",
        "warning",
        "warning",
    ]
    rules = {rule["id"]: rule for run_ in log["runs"] for rule in run_["tool"]["driver"]["rules"]}
    assert all(r["ruleId"] in rules and r["ruleId"].startswith("CVE-") for r in results)
    # GitHub ranks by `security-severity`: the finding's CVSS base score when it has one (what
    # the library computed from the report's vector), else a value standing for its severity.
    expected = {}
    for finding in Finding.objects.filter(rule_id__in=[r["ruleId"] for r in results]):
        score = finding.cvss_score
        expected[finding.rule_id] = f"{score:.1f}" if score is not None else {
            "critical": "9.5", "high": "8.0", "medium": "5.5"
        }[finding.severity]  # fmt: skip
    assert {
        r["ruleId"]: rules[r["ruleId"]]["properties"]["security-severity"] for r in results
    } == expected
    assert "6.5" in expected.values()  # CVE-2020-15999: NVD's CVSS:3.1 vector scores 6.5


def test_json_output_carries_the_scan_the_findings_and_the_import_diff(outpost: Outpost) -> None:
    report = str(TRIVY / "scheme_2_many_vulns.json")
    first = outpost("import", "--tool", "trivy", report, "--label", "ci", "--format", "json").json()
    second = outpost(
        "import", "--tool", "trivy", report, "--label", "ci", "--format", "json"
    ).json()
    assert first["scan"]["status"] == "completed"
    assert len(first["findings"]) == first["scan"]["findings_count"] == 5
    assert second["import"]["previous_scan"] == first["scan"]["id"]
    assert second["import"]["still_open"] == 5 and second["import"]["new"] == 0


def test_usage_errors_exit_2(outpost: Outpost, cli_env: dict[str, str]) -> None:
    no_key = {k: v for k, v in cli_env.items() if k != "OUTPOST_API_KEY"}
    missing = outpost("scan", "results", "1", env=no_key)
    assert missing.code == 2
    assert "set OUTPOST_API_KEY in the environment" in missing.stderr
    assert outpost("import", "--tool", "notatool", "x.json").code == 2
    assert outpost("scan", "run", "--target", "1").code == 2  # --workflow missing
    assert outpost("import", "--tool", "trivy", "/no/such/report.json").code == 2
    not_found = outpost("scan", "results", "999999")
    assert not_found.code == 2 and "HTTP 404" in not_found.stderr
    bad_key = outpost("scan", "results", "1", env={**cli_env, "OUTPOST_API_KEY": "opk_not-a-key"})
    assert bad_key.code == 2 and "HTTP 401" in bad_key.stderr
    out_of_scope = outpost("scan", "image", "registry.example/never-authorized:1")
    assert out_of_scope.code == 2 and "not in scope" in out_of_scope.stderr


def test_a_cancelled_scan_exits_3(outpost: Outpost, user: User, team: Team) -> None:
    scan = Scan.objects.create(
        team=team, requested_by=user, status="cancelled", error="cancelled by a test"
    )
    run = outpost("scan", "results", str(scan.pk), "--fail-on", "high", "--format", "json")
    assert run.code == 3
    assert f"scan #{scan.pk} cancelled" in run.stderr
    assert run.json()["scan"]["status"] == "cancelled"


def test_an_unreachable_server_exits_3(outpost: Outpost, cli_env: dict[str, str]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    run = outpost("scan", "results", "1", env={**cli_env, "OUTPOST_URL": closed})
    assert run.code == 3
    assert "cannot reach Outpost" in run.stderr


def test_waiting_gives_up_after_the_wait_timeout_with_exit_3(
    outpost: Outpost, user: User, team: Team
) -> None:
    scan = Scan.objects.create(team=team, requested_by=user, status="queued")
    run = outpost(
        "scan", "results", str(scan.pk), "--wait-timeout", "1.5", "--poll-interval", "0.5"
    )
    assert run.code == 3
    assert "still queued after 2 s" in run.stderr
    assert f"scan #{scan.pk} queued" in run.stderr  # progress while waiting
