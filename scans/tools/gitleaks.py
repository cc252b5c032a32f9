"""Gitleaks: secrets committed to git repositories (https://github.com/gitleaks/gitleaks), in a
container without network.

Two commands per repo item: the worker clones the repository (a host tool, through the local
executor, with the same hardening as the built-in secret_scan: https/ssh only, no prompts, no
credentials, no system or global git config, symlinks as plain files), then gitleaks reads the
clone mounted read-only at /input/repo:

    git -c core.symlinks=false … clone --quiet --no-tags --depth N -- URL repo
    gitleaks detect --source /input/repo --report-format json --report-path /output/gitleaks-N.json
                    --redact --no-banner --exit-code 0 [--log-opts=--max-count=N]

`--redact` makes gitleaks itself write "REDACTED" instead of the secret; `--exit-code 0` because
gitleaks otherwise exits 1 whenever it finds something.

Reads both report shapes: v7 (`rule`, `offender`, `line`, `file`, `commit`, optional
`lineNumber`) and v8 (`RuleID`, `Description`, `File`, `StartLine`, `Secret`, `Match`, `Commit`);
`null` or `[]` is an empty report. Also its SARIF (`--report-format sarif`, v7 and v8: the secret
is masked from the snippet and `offender` alike) and CSV (`--report-format csv`, v8 columns). Severity: gitleaks has none, and a leaked credential is
exploitable as it is, so every finding is high. Location: `file:line` (path normalized);
component: the repository URL when known, so the same file:line in two repositories are two
findings. The secret (v8 `Secret`, v7 `offender`) is masked everywhere it could appear: evidence,
title, description (first 4 characters and "***" for secrets of 8+ characters, else "***"); it
is never stored in clear, even when gitleaks ran without --redact (imported reports).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scans.engine.runtime import Command, FindingData, StepContext, StepResult
from scans.tools import tool_image
from scans.tools.kit import fields
from scans.tools.kit.arguments import TargetRefused, refused_line, repo_argument
from scans.tools.kit.detect import csv_header, has_keys, json_document
from scans.tools.kit.invoke import Plan, invoke, run_failure, run_plans
from scans.tools.kit.options import ConfigField, clone_size_field, timeout_field, validate_config
from scans.tools.kit.reports import (
    ParsedReport,
    as_list,
    bulk_parser,
    csv_rows,
    load_json,
    load_json_shaped,
    mask,
    normalize_path,
    redact,
)
from scans.tools.kit.sarif import sarif_detector
from scans.tools.kit.tool import ReportFormat, Tool
from scans.tools.secret_scan import GIT_CONFIG, _git_env, repo_url_problem
from targets.items import Item

TOOL = "gitleaks"
ACCEPTS = {"repo"}
EMITS: set[str] = set()


def _is_gitleaks_json(data: bytes) -> bool:
    document = json_document(data)
    return (
        isinstance(document, list)
        and bool(document)
        and (has_keys(document[0], "RuleID") or has_keys(document[0], "rule", "offender"))
    )


def _is_gitleaks_csv(data: bytes) -> bool:
    header = csv_header(data)
    return header[:1] == ["ruleid"] and {"secret", "file", "startline"} <= set(header)


NODE = Tool(
    type="gitleaks",
    label="Gitleaks",
    group="Scan",
    icon="branch",
    help="Secrets committed to git repositories with gitleaks, sandboxed.",
    order=30,
    image="zricethezav/gitleaks:v8.21.2",
    network="none",
    sarif_uri="https://github.com/gitleaks/gitleaks",
    formats=(
        ReportFormat(
            name="gitleaks-json",
            label="Gitleaks JSON",
            detect=_is_gitleaks_json,
            command="gitleaks detect --report-format json --report-path gitleaks.json",
            empty=("[]", "null"),
        ),
        ReportFormat(
            name="gitleaks-sarif",
            label="Gitleaks SARIF",
            detect=sarif_detector("gitleaks"),
            command="gitleaks detect --report-format sarif --report-path gitleaks.sarif",
            parse=lambda data, subject="": parse_sarif(data, subject=subject),
        ),
        ReportFormat(
            name="gitleaks-csv",
            label="Gitleaks CSV",
            detect=_is_gitleaks_csv,
            command="gitleaks detect --report-format csv --report-path gitleaks.csv",
            parse=lambda data, subject="": parse_csv(data, subject=subject),
        ),
    ),
)
CONFIG_FIELDS: list[ConfigField] = [
    fields.integer("depth", 100, 1, 100_000, "Commits of history to clone and scan"),
    clone_size_field(),
    timeout_field(),
]  # fmt: skip
CHECKOUT = "repo"  # the clone, in the clone command's workdir; mounted at /input/repo


def _pairs(config: dict[str, Any], items: list[Item]) -> tuple[list[tuple[Plan, Plan]], list[str]]:
    options = validate_config(config, CONFIG_FIELDS)
    image = tool_image(TOOL)
    pairs: list[tuple[Plan, Plan]] = []
    refused: list[str] = []
    for item in items:
        if item.kind != "repo":
            continue
        problem = repo_url_problem(item.value)
        try:
            if problem:
                raise TargetRefused(problem)
            url = repo_argument(item.value)
        except TargetRefused as exc:
            refused.append(refused_line(item, exc))
            continue
        output = f"gitleaks-{len(pairs) + 1}.json"
        clone = ["git", *GIT_CONFIG, "clone", "--quiet", "--no-tags"]
        clone += ["--depth", str(options["depth"]), "--", url, CHECKOUT]
        scan = ["gitleaks", "detect", "--source", f"/input/{CHECKOUT}"]
        scan += ["--report-format", "json", "--report-path", f"/output/{output}"]
        scan += ["--redact", "--no-banner", "--exit-code", "0"]
        scan += [f"--log-opts=--max-count={options['depth']}"]
        pairs.append(
            (
                Plan(
                    Command(clone),
                    subject=item.value,
                    max_output_bytes=options["max_repo_mb"] * 1024 * 1024,
                ),
                Plan(Command(scan, image), output=output, subject=item.value),
            )
        )
    return pairs, refused


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    """Per repo item: the clone (on the worker, no image), then gitleaks (in its image)."""
    return [plan.command for pair in _pairs(config, items)[0] for plan in pair]


def run(ctx: StepContext) -> StepResult:
    pairs, refused = _pairs(ctx.config, ctx.items)
    for line in refused:
        ctx.log(line)
    result = StepResult()
    scans: list[Plan] = []
    failures: list[str] = []
    for index, (clone, scan) in enumerate(pairs, start=1):
        if ctx.is_cancelled():
            result.error = "cancelled"
            return result
        workdir = ctx.workdir / f"{TOOL}-clone-{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        clone.env = _git_env(workdir)  # HOME = the workdir: no SSH keys, agent or credentials
        cloned = invoke(ctx, TOOL, clone, workdir=workdir, timeout_s=ctx.timeout_s)
        result.runs.append(cloned)
        if not cloned.ok:
            failures.append(f"{clone.subject}: clone failed: {run_failure(cloned)}")
            ctx.log(failures[-1])
            continue
        scan.input_files = {CHECKOUT: Path(workdir / CHECKOUT)}
        scans.append(scan)
    if pairs and not scans:
        result.error = (
            failures[0]
            if len(failures) == 1
            else (f"no repository could be cloned; first: {failures[0]}")
        )
        return result
    scanned = run_plans(ctx, TOOL, scans, parse)
    scanned.runs = result.runs + scanned.runs
    return scanned


@bulk_parser
def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from a gitleaks JSON report (v7 or v8), secrets masked."""
    # gitleaks writes `null` or nothing at all when it found no leak.
    document = (
        load_json_shaped(data, TOOL, (list, type(None)), "a list of leaks")
        if data.strip()
        else None
    )
    leaks = as_list(document)
    for leak in leaks:
        if not isinstance(leak, dict):
            raise ValueError("not a gitleaks report: a leak is not an object")
    return _leaks_parsed(leaks, subject)


def _leaks_parsed(leaks: list[dict[str, Any]], subject: str) -> ParsedReport:
    report = ParsedReport(findings=[_finding(leak, subject) for leak in leaks])
    if subject.startswith(("https://", "http://", "ssh://", "git@")):
        report.assets.append(Item("repo", subject))  # the scanned repository, for the inventory
    return report


@bulk_parser
def parse_csv(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from gitleaks' CSV report (v8: the JSON report's fields as columns)."""
    names = {"ruleid": "RuleID", "startline": "StartLine"}
    leaks = [
        {names.get(key, key.capitalize()): value for key, value in row.items()}
        for row in csv_rows(data, TOOL)
    ]
    for leak in leaks:
        leak["Description"] = leak.get("Description") or leak.get("RuleID", "")
    return _leaks_parsed(leaks, subject)


@bulk_parser
def parse_sarif(data: bytes, *, subject: str = "") -> ParsedReport:
    """Findings from gitleaks' SARIF (v7: the secret in `properties.offender`; v8: in the
    region's snippet), masked like the JSON report's."""
    document = load_json(data, TOOL)
    leaks = []
    for run in as_list(document.get("runs") if isinstance(document, dict) else None):
        for result in as_list((run or {}).get("results")):
            if not isinstance(result, dict):
                raise ValueError("not a gitleaks report: a SARIF result is not an object")
            leaks.append(_sarif_leak(result))
    return _leaks_parsed(leaks, subject)


def _sarif_leak(result: dict[str, Any]) -> dict[str, Any]:
    raw = result.get("properties")
    properties: dict[str, Any] = raw if isinstance(raw, dict) else {}
    fingerprints = result.get("partialFingerprints")
    marks: dict[str, Any] = fingerprints if isinstance(fingerprints, dict) else {}
    location = (as_list(result.get("locations")) or [{}])[0] or {}
    physical = location.get("physicalLocation") or {}
    region = physical.get("region") or {}
    snippet = str((region.get("snippet") or {}).get("text") or "")
    rule = str(result.get("ruleId") or "")
    return {
        "RuleID": rule,
        "Description": rule,
        "File": (physical.get("artifactLocation") or {}).get("uri"),
        "StartLine": region.get("startLine"),
        "Secret": properties.get("offender") or snippet,
        "Match": snippet,
        "Commit": properties.get("commit") or marks.get("commitSha"),
        "Author": properties.get("author") or marks.get("author"),
        "Email": properties.get("email") or marks.get("email"),
        "Date": properties.get("date") or marks.get("date"),
    }


def _finding(leak: dict[str, Any], subject: str) -> FindingData:
    if "RuleID" in leak or "Secret" in leak:  # v8
        rule = str(leak.get("RuleID") or "")
        name = str(leak.get("Description") or rule)
        secret = str(leak.get("Secret") or "")
        path = normalize_path(leak.get("File"))
        line = leak.get("StartLine")
        context = {"match": str(leak.get("Match") or "")}
        commit = str(leak.get("Commit") or "")
        author, email, date = leak.get("Author"), leak.get("Email"), leak.get("Date")
        tags = [str(t) for t in as_list(leak.get("Tags"))]
    else:  # v7
        rule = str(leak.get("rule") or "")
        name = rule
        secret = str(leak.get("offender") or "")
        path = normalize_path(leak.get("file"))
        line = leak.get("lineNumber")
        context = {"context": str(leak.get("line") or "")}  # the whole line
        commit = str(leak.get("commit") or "")
        author, email, date = leak.get("author"), leak.get("email"), leak.get("date")
        raw_tags = leak.get("tags") or ""
        tags = [t.strip() for t in str(raw_tags).split(",") if t.strip()]
    secrets = [secret] if secret and secret != "REDACTED" else []  # noqa: S105 (gitleaks' marker)
    location = f"{path}:{line}" if line else path
    finding = FindingData(
        tool=TOOL,
        severity="high",
        title=f"{name} in {location}",
        rule_id=rule,
        description=f"gitleaks found what looks like a {name} in {location}"
        + (f" (commit {commit[:12]})." if commit else "."),
        remediation="Revoke and rotate the secret, remove it from the repository and its history, "
        "and load it from a secret store or the environment instead.",
        component=subject,
        location=location,
        item=subject,
        evidence={
            "secret": mask(secret) if secrets else secret,
            **context,
            "file": path,
            "line": line or "",
            "commit": commit,
            "author": str(author or ""),
            "email": str(email or ""),
            "date": str(date or ""),
        },
        tags=["secret", *tags],
        cwe_ids=["CWE-798"],  # use of hard-coded credentials
    )
    # Mask the secret wherever it could have slipped in (a file name, a match, a line).
    finding.title = redact(finding.title, secrets)
    finding.description = redact(finding.description, secrets)
    finding.location = redact(finding.location, secrets)
    finding.evidence = {
        key: value if key == "secret" else redact(value, secrets)
        for key, value in finding.evidence.items()
    }
    finding.tags = redact(finding.tags, secrets)
    return finding
