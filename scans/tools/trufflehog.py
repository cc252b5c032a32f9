"""TruffleHog: secrets in git history and other sources (https://github.com/trufflesecurity/trufflehog).
Imported only.

Reads JSON Lines from both generations (an empty file is a clean run):
- v3 (`trufflehog git … --json`): `{SourceMetadata: {Data: {Git|Github|Filesystem|…: {file,
  line, commit, repository, link, email, timestamp}}}, DetectorName, Verified, Raw, Redacted,
  ExtraData}`;
- v2 (`trufflehog --json`): `{branch, commit, commitHash, date, diff, path, printDiff, reason,
  stringsFound}`.
One finding per detector (v2: reason) and file:line (v2: file and commit): a verified secret
(TruffleHog logged in with it) is critical, an unverified one high. The secret itself is never
stored: `Raw`, `RawV2`, the strings found and the diff are dropped, and only a masked form
(first 4 characters) is kept. The repository is recorded in the inventory when the report
names it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from scans.engine.runtime import FindingData
from scans.tools.kit.detect import first_json_line, has_any_key, has_keys
from scans.tools.kit.reports import (
    ParsedReport,
    as_dict,
    as_list,
    bulk_parser,
    load_json_lines,
    mask,
    normalize_path,
    text,
)
from scans.tools.kit.tool import ReportFormat, Tool
from targets.items import Item

TOOL = "trufflehog"


def _is_trufflehog(data: bytes) -> bool:
    record = first_json_line(data)
    return (has_keys(record, "SourceMetadata", "DetectorName")) or (
        has_keys(record, "reason", "stringsFound") and has_any_key(record, "commitHash", "path")
    )


NODE = Tool(
    type=TOOL,
    label="TruffleHog",
    group="Scan",
    icon="key",
    help="Secrets from TruffleHog reports (v2 and v3 JSON Lines).",
    order=58,
    imports_only=True,
    sarif_uri="https://github.com/trufflesecurity/trufflehog",
    formats=(
        ReportFormat(
            name="trufflehog-json",
            label="TruffleHog JSON Lines (v2, v3)",
            detect=_is_trufflehog,
            command="trufflehog git https://github.com/org/repo --json > trufflehog.json",
            empty=("blank",),
        ),
    ),
)


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from TruffleHog's JSON Lines, secrets masked."""
    report = ParsedReport()
    repositories: set[str] = set()
    for record in load_json_lines(data, "TruffleHog"):
        if not isinstance(record, dict):
            raise ValueError("not a TruffleHog report: a record is not an object")
        if "SourceMetadata" in record:
            finding, repository = _v3(record, subject)
        elif "reason" in record:
            finding, repository = _v2(record, subject)
        else:
            raise ValueError(
                "not a TruffleHog report: a record has neither DetectorName nor reason"
            )
        report.findings.append(finding)
        if repository:
            repositories.add(repository)
    report.assets.extend(
        Item("repo", r)
        for r in sorted(repositories)
        if r.startswith(("https://", "ssh://", "git@"))
    )
    return report


def _v3(record: dict[str, Any], subject: str) -> tuple[FindingData, str]:
    data = as_dict(as_dict(record.get("SourceMetadata")).get("Data"))
    source_kind, source = next(iter(data.items()), ("", {}))
    source = as_dict(source)
    path = normalize_path(source.get("file") or source.get("path") or "")
    line = source.get("line")
    detector = str(record.get("DetectorName") or record.get("DetectorType") or "")
    verified = record.get("Verified") is True
    secret = str(record.get("Redacted") or record.get("Raw") or "")
    where = f"{path}:{line}" if line else path
    repository = str(source.get("repository") or "")
    finding = FindingData(
        tool=TOOL,
        severity="critical" if verified else "high",
        title=text(
            f"{'Verified ' if verified else ''}{detector} secret in {where or source_kind}", 500
        ),
        rule_id=detector,
        description=f"TruffleHog found a {detector} secret in {where or source_kind}"
        + (" and verified that it works." if verified else " (not verified)."),
        remediation="Revoke and rotate the secret, remove it from the repository and its history.",
        component=subject or repository,
        location=where or str(source.get("link") or ""),
        item=subject or repository,
        evidence={
            "secret": mask(secret),
            "verified": verified,
            "source": str(source_kind),
            "commit": str(source.get("commit") or ""),
            "link": str(source.get("link") or ""),
            "email": str(source.get("email") or ""),
            "date": str(source.get("timestamp") or ""),
            "fingerprint": hashlib.sha256(secret.encode()).hexdigest()[:16],
        },
        tags=["secret", "verified"] if verified else ["secret"],
        cwe_ids=["CWE-798"],
    )
    return finding, repository


def _v2(record: dict[str, Any], subject: str) -> tuple[FindingData, str]:
    reason = str(record.get("reason") or "")
    path = normalize_path(record.get("path"))
    strings = [str(s) for s in as_list(record.get("stringsFound"))]
    commit = str(record.get("commitHash") or "")
    finding = FindingData(
        tool=TOOL,
        severity="high",
        title=text(f"{reason} in {path}", 500),
        rule_id=reason,
        description=f"TruffleHog found {len(strings)} string(s) matching {reason} in {path} (commit {commit[:12]}).",
        remediation="Revoke and rotate the secret, remove it from the repository and its history.",
        component=subject,
        location=f"{path}@{commit[:12]}" if commit else path,
        item=subject,
        evidence={
            "secrets": [mask(s) for s in strings][:20],
            "commit": commit,
            "branch": str(record.get("branch") or ""),
            "date": str(record.get("date") or ""),
        },
        tags=["secret"],
        cwe_ids=["CWE-798"],
    )
    return finding, ""
