"""gitleaks reports (v7, v8, empty) parse into high findings at file:line, and the secret is never
stored in clear in any field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scans.tools import gitleaks
from tests.scans.tools.conftest import sample

SAMPLES = ["gitleaks/data_many.json", "gitleaks/gitleaks8_many.json", "gitleaks/no_findings.json"]


def raw_leaks(data: bytes) -> list[dict[str, Any]]:
    return json.loads(data) or []


def place(leak: dict[str, Any]) -> tuple[str, str, str]:
    """(rule, file without leading slash, line) as written in the raw report."""
    if "RuleID" in leak:
        return leak["RuleID"], leak["File"].lstrip("/"), str(leak["StartLine"])
    return leak["rule"], leak["file"].lstrip("/"), str(leak.get("lineNumber", ""))


@pytest.mark.smoke
@pytest.mark.parametrize("name", SAMPLES)
def test_it_reads_one_high_finding_per_distinct_leak(name: str) -> None:
    data = sample(name)
    distinct = {place(leak) for leak in raw_leaks(data)}

    parsed = gitleaks.parse(data)

    assert len(parsed.findings) == len(distinct)
    assert {f.severity for f in parsed.findings} <= {"high"}


@pytest.mark.parametrize("name", SAMPLES)
def test_no_secret_appears_in_clear_in_any_stored_field(name: str) -> None:
    data = sample(name)
    secrets: set[str] = set()
    for leak in raw_leaks(data):
        secrets.add(str(leak.get("Secret") or leak.get("offender")))
        if "offender" in leak:  # v7: the token itself, inside the offender
            secrets.add(leak["offender"].split("=", 1)[1].strip('"'))

    serialized = json.dumps(
        [
            f.to_dict()
            for f in gitleaks.parse(data, subject="https://git.example.test/o/r.git").findings
        ]
    )

    for secret in secrets:
        assert secret not in serialized


def test_v8_fields_become_rule_location_and_masked_evidence() -> None:
    parsed = gitleaks.parse(
        sample("gitleaks/gitleaks8_many.json"), subject="https://git.example.test/o/r.git"
    )

    api_key = next(f for f in parsed.findings if f.rule_id == "generic-api-key")
    assert api_key.location == "tests/api.py:21"
    assert api_key.component == "https://git.example.test/o/r.git"
    assert api_key.evidence["secret"] == "dfjk***"
    assert api_key.evidence["match"] == 'apikey = "dfjk***"'
    assert api_key.evidence["commit"].startswith("69235ea9")
    aws = next(f for f in parsed.findings if f.rule_id == "aws-access-token")
    assert aws.location == "conf/aws.tf:2"  # the leading slash of "/conf/aws.tf" normalized away
    assert aws.evidence["occurrences"] == 2  # the same line in two commits


def test_v7_fields_become_rule_file_and_a_masked_line() -> None:
    parsed = gitleaks.parse(sample("gitleaks/data_many.json"))

    github = next(f for f in parsed.findings if f.rule_id == "Github")
    assert github.location == ".bashrc"
    assert github.evidence["context"] == "export JEKYLL_GITH***"  # the offender masked
    assert github.tags == ["secret", "key", "Github"]


def test_a_redacted_report_stays_redacted() -> None:
    leak = {"RuleID": "slack-token", "Description": "Slack token", "File": "a.env", "StartLine": 3,
            "Secret": "REDACTED", "Match": "SLACK=REDACTED"}  # fmt: skip

    [finding] = gitleaks.parse(json.dumps([leak]).encode()).findings

    assert finding.evidence["secret"] == "REDACTED"
    assert finding.evidence["match"] == "SLACK=REDACTED"


@pytest.mark.parametrize("data", [b"{}", b"[1]", b"nope"])
def test_it_refuses_what_is_not_a_gitleaks_report(data: bytes) -> None:
    with pytest.raises(ValueError):
        gitleaks.parse(data)
