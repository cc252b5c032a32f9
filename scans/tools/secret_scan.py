"""secret_scan: clone a repository and look for committed secrets with detect-secrets.

Two commands per repository, both in the plan (so a dry run shows the exact git command):

    git -c core.symlinks=false -c http.followRedirects=false -c core.fsmonitor=false
        clone --quiet --depth N --no-tags -- REPO_URL repo-1
    builtin:secret_scan --checkout repo-1 --max-file-kb N --max-findings N -- REPO_URL

git runs through the local executor (it is a host tool, whatever executor the step has) in the
step's `secret-scan/` folder, with GIT_ALLOW_PROTOCOL=https:ssh (plus file when
settings.SECRET_SCAN_ALLOW_FILE_REPOS is true: off by default, since a file:// target would read
repositories on the worker's own disk), no terminal prompts, no system or global git config (so no
credential helper) and HOME set to that folder (so no SSH keys or agent): nothing but the clone
touches the network, and no credentials are sent. URLs starting with "-", remote helpers (ext::…)
and URLs with spaces or control characters are refused before git sees them. Symlinks are checked
out as plain files, so a hostile repository cannot point the scanner at files outside it. The
clone may write no file larger than max_repo_mb (RLIMIT_FSIZE).

detect-secrets (its default plugins and filters, through its Python API) then reads the checked-out
files (not history; text files up to max_file_kb). Each finding has rule_id = the detect-secrets
type, location = path:line, severity high, and the secret MASKED in its evidence (the first 4
characters and "***"; just "***" for secrets shorter than 8): the secret itself is never stored,
logged or printed. The repository URL is the finding's component, so the same file:line in two
repositories are two findings.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from scans.engine.executors.local import LocalExecutor
from scans.engine.runtime import (
    Command,
    FindingData,
    StepContext,
    StepResult,
    ToolInvocation,
    ToolRun,
)
from scans.tools.kit import fields
from scans.tools.kit.options import (
    BuiltinArgs,
    ConfigField,
    clone_size_field,
    timeout_field,
    validate_config,
)
from scans.tools.kit.records import BuiltinRun, step_error
from scans.tools.kit.tool import Tool
from targets.items import Item

TOOL = "secret_scan"
CLONE_FOLDER = "secret-scan"  # under the step's workdir; git's cwd and HOME
_CHECKOUT = re.compile(r"^repo-[0-9]{1,6}$")


def checkout_name(value: str) -> str:
    """The checkout folder a scan command reads: "repo-N" only, never a path."""
    if not _CHECKOUT.match(value):
        raise ValueError(f"not a checkout folder name: {value!r}")
    return value


ACCEPTS = {"repo"}
EMITS: set[str] = set()

NODE = Tool(
    type="secret_scan",
    label="Secret scan",
    group="Scan",
    icon="key",
    help="Secrets committed to git repositories, with their history (built in).",
    order=40,
)
CONFIG_FIELDS: list[ConfigField] = [
    fields.integer("depth", 50, 1, 1000, "Commits of history to clone"),
    fields.integer("max_file_kb", 1024, 1, 10240, "Skip files larger than this"),
    clone_size_field(),
    fields.integer("max_findings", 500, 1, 10000, "Stop reporting after this many secrets"),
    timeout_field(),
]  # fmt: skip

_ARGS = BuiltinArgs(TOOL)
_ARGS.add_argument("--checkout", type=checkout_name, required=True)
_ARGS.add_argument("--max-file-kb", type=int, required=True)
_ARGS.add_argument("--max-findings", type=int, required=True)
_ARGS.add_argument("url")

GIT_CONFIG = [
    "-c",
    "core.symlinks=false",
    "-c",
    "http.followRedirects=false",
    "-c",
    "core.fsmonitor=false",
]
BINARY_SNIFF_BYTES = 8192


def allowed_protocols() -> list[str]:
    protocols = ["https", "ssh"]
    if getattr(settings, "SECRET_SCAN_ALLOW_FILE_REPOS", False):
        protocols.append("file")
    return protocols


def repo_url_problem(url: str) -> str:
    """Why git must not be given this URL ("" when it may)."""
    if not url or url.startswith("-"):
        return "a repository URL may not be empty or start with '-'"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "a repository URL may not contain spaces or control characters"
    head = url.split("/", 1)[0]
    if "::" in head:
        scheme = head.split("::", 1)[0].lower()  # git's <transport>::<address> (remote helpers)
    elif "://" in url:
        scheme = urlsplit(url).scheme.lower()
    elif ":" in head:
        scheme = "ssh"  # scp-like git@host:owner/repo.git
    else:
        scheme = "file"  # a plain path is a local clone
    if scheme not in allowed_protocols():
        return f"the {scheme} protocol is not allowed (allowed: {', '.join(allowed_protocols())})"
    return ""


def commands(config: dict, items: list[Item]) -> list[Command]:
    """Two commands per repo item: the git clone (run by the local executor in the step's
    `secret-scan/` folder) and the scan of its checkout. URLs git must not see are left out
    (run logs them)."""
    options = validate_config(config, CONFIG_FIELDS)
    planned: list[Command] = []
    urls = [
        item.value for item in items if item.kind == "repo" and not repo_url_problem(item.value)
    ]
    for index, url in enumerate(dict.fromkeys(urls), start=1):
        checkout = f"repo-{index}"
        planned.append(
            Command(
                [
                    "git",
                    *GIT_CONFIG,
                    "clone",
                    "--quiet",
                    "--depth",
                    str(options["depth"]),
                    "--no-tags",
                    "--",
                    url,
                    checkout,
                ]
            )
        )
        planned.append(
            Command(
                [
                    f"builtin:{TOOL}",
                    "--checkout",
                    checkout,
                    "--max-file-kb",
                    str(options["max_file_kb"]),
                    "--max-findings",
                    str(options["max_findings"]),
                    "--",
                    url,
                ]
            )
        )
    return planned


def mask(secret: str) -> str:
    return f"{secret[:4]}***" if len(secret) >= 8 else "***"


def _git_env(home: Path) -> dict[str, str]:
    return {
        "GIT_ALLOW_PROTOCOL": ":".join(allowed_protocols()),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -F /dev/null",
        "HOME": str(home),
    }


def _text_files(root: Path, max_bytes: int) -> list[str]:
    """Relative paths of the checked-out regular text files up to max_bytes, .git excluded."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file() or path.stat().st_size > max_bytes:
                continue
            with path.open("rb") as handle:
                if b"\0" in handle.read(BINARY_SNIFF_BYTES):
                    continue
            found.append(str(path.relative_to(root)))
    return sorted(found)


def detect(root: Path, files: list[str]) -> list[tuple[str, Any]]:
    """(relative path, detect-secrets PotentialSecret) for these files (default plugins and
    filters), in path and line order."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    collection = SecretsCollection(root=str(root))
    with default_settings():
        for name in files:
            collection.scan_file(name)  # one by one: a worker process may not fork a pool
    return list(collection)


def run(ctx: StepContext) -> StepResult:
    result = StepResult()
    for item in ctx.items:
        if item.kind == "repo" and repo_url_problem(item.value):
            ctx.log(f"{item.value[:200]!r} not cloned: {repo_url_problem(item.value)}")
    options = validate_config(ctx.config, CONFIG_FIELDS)
    folder = ctx.workdir / CLONE_FOLDER
    executor = LocalExecutor()
    planned = commands(ctx.config, ctx.items)
    for clone_command, scan_command in zip(planned[0::2], planned[1::2], strict=True):
        if ctx.is_cancelled():
            result.runs.append(BuiltinRun(clone_command.argv).finish(cancelled=True))
            break
        args = _ARGS.parse(scan_command.argv)
        clone = executor.run(
            ToolInvocation(
                argv=clone_command.argv,
                timeout_s=ctx.timeout_s,
                workdir=folder,
                env=_git_env(folder),
                max_output_bytes=options["max_repo_mb"]
                * 1024
                * 1024,  # also the largest file git may write
                memory_mb=max(1024, int(getattr(settings, "TOOL_MEMORY_MB", 1024))),
                cancel_check=ctx.is_cancelled,
            )
        )
        result.runs.append(clone)
        if not clone.ok:
            stderr = clone.stderr.decode(errors="replace").strip()[-300:]
            clone.error = clone.error or f"git clone exited {clone.exit_code}: {stderr}"
            ctx.log(f"{args.url}: {clone.error}")
            if clone.cancelled:
                break
            continue
        result.runs.append(_scan(ctx, result, scan_command.argv, args, folder / args.checkout))
    result.error = step_error(result.runs)
    return result


def _scan(
    ctx: StepContext, result: StepResult, argv: list[str], args: Any, checkout: Path
) -> ToolRun:
    record = BuiltinRun(argv)
    commit = _head_commit(checkout)
    # The repository at the commit scanned, for the inventory.
    result.assets.append(Item("repo", args.url, {"commit": commit} if commit else {}))
    ctx.heartbeat()
    files = _text_files(checkout, args.max_file_kb * 1024)
    secrets = detect(checkout, files)
    if len(secrets) > args.max_findings:
        ctx.log(
            f"{args.url}: {len(secrets)} secrets found, reporting the first {args.max_findings}"
        )
    for path, secret in secrets[: args.max_findings]:
        finding = _finding(secret, path=path, url=args.url, commit=commit)
        record.say(f"{finding.location} {secret.type} {finding.evidence['secret']}")
        result.findings.append(finding)
    summary = (
        f"{args.url} at {commit[:12] or '?'}: {len(files)} files scanned, {len(secrets)} secrets"
    )
    record.conclude(ctx, summary)
    return record.finish()


def _head_commit(checkout: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_CONFIG_NOSYSTEM": "1",
                "HOME": str(checkout.parent),
            },
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _finding(secret: Any, *, path: str, url: str, commit: str) -> FindingData:
    line = int(secret.line_number or 0)
    value = str(secret.secret_value or "")
    return FindingData(
        tool=TOOL,
        severity="high",
        title=f"{secret.type} in {path}",
        rule_id=str(secret.type),
        description=f"detect-secrets found what looks like a {secret.type} on line {line} of {path}.",
        remediation="Revoke and rotate the secret, remove it from the repository and its history, "
        "and load it from a secret store or the environment instead.",
        component=url,
        location=f"{path}:{line}",
        item=url,
        evidence={"secret": mask(value), "file": path, "line": line, "commit": commit, "repo": url},
        tags=["secret"],
    )
