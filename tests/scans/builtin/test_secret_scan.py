"""The built-in secret_scan: a repository made in the test, cloned over file://."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scans.tools import secret_scan
from targets.items import Item
from tests.scans.conftest import StepContextFactory

AWS_KEY = "AKIAJ7Q2R5T8W1Y4B6D9"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7Lrm1\n-----END RSA PRIVATE KEY-----\n"


def git(*args: str, cwd: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@outpost.test",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def leaky_repo(tmp_path: Path) -> str:
    """A bare repository whose one commit holds an AWS key, a private key, a harmless file, and
    a symlink to a secret outside the repository."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "credentials").write_text(
        f'aws_access_key_id = "AKIAOUTSIDE0THE0REPO"\n{PRIVATE_KEY}'
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "README.md").write_text("# Demo\nNothing to see here.\n")
    (work / "settings.py").write_text(f'DEBUG = False\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\n')
    (work / "deploy").mkdir()
    (work / "deploy" / "id_rsa").write_text(PRIVATE_KEY)
    (work / "leak").symlink_to(outside / "credentials")
    git("init", "-q", ".", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    git("clone", "-q", "--bare", str(work), str(tmp_path / "leaky.git"), cwd=tmp_path)
    return f"file://{tmp_path / 'leaky.git'}"


@pytest.fixture
def file_repos_allowed(settings: Any) -> None:
    settings.SECRET_SCAN_ALLOW_FILE_REPOS = True


@pytest.mark.smoke
def test_it_reports_committed_secrets_with_the_secret_masked(
    step_context: StepContextFactory, leaky_repo: str, file_repos_allowed: None
) -> None:
    result = secret_scan.run(step_context(items=[Item("repo", leaky_repo)]))

    assert result.error == ""
    found = {(f.rule_id, f.location) for f in result.findings}
    assert found == {("AWS Access Key", "settings.py:2"), ("Private Key", "deploy/id_rsa:1")}
    aws = next(f for f in result.findings if f.rule_id == "AWS Access Key")
    assert aws.severity == "high"
    assert aws.evidence["secret"] == "AKIA***"
    assert aws.component == leaky_repo and aws.item == leaky_repo
    assert len(aws.evidence["commit"]) == 40
    everything = json.dumps([f.to_dict() for f in result.findings]) + " ".join(step_context.logs)
    everything += "".join((run.stdout + run.stderr).decode() for run in result.runs)
    assert AWS_KEY not in everything
    assert "MIIEow" not in everything


def test_it_does_not_follow_a_symlink_out_of_the_repository(
    step_context: StepContextFactory, leaky_repo: str, file_repos_allowed: None
) -> None:
    ctx = step_context(items=[Item("repo", leaky_repo)])

    result = secret_scan.run(ctx)

    assert not any(f.location.startswith("leak") for f in result.findings)
    checked_out = ctx.workdir / "secret-scan" / "repo-1" / "leak"
    assert not checked_out.is_symlink()
    assert checked_out.read_text().endswith("outside/credentials")


def test_it_runs_exactly_the_commands_it_plans_git_clone_included(
    step_context: StepContextFactory, leaky_repo: str, file_repos_allowed: None
) -> None:
    ctx = step_context(items=[Item("repo", leaky_repo)], config={"depth": 3})

    planned = secret_scan.commands({"depth": 3}, [Item("repo", leaky_repo)])
    result = secret_scan.run(ctx)

    assert [c.argv for c in planned] == [
        [
            "git", "-c", "core.symlinks=false", "-c", "http.followRedirects=false", "-c", "core.fsmonitor=false",
            "clone", "--quiet", "--depth", "3", "--no-tags", "--", leaky_repo, "repo-1",
        ],
        ["builtin:secret_scan", "--checkout", "repo-1", "--max-file-kb", "1024", "--max-findings", "500", "--", leaky_repo],
    ]  # fmt: skip
    assert [run.argv for run in result.runs] == [c.argv for c in planned]
    assert [run.executor for run in result.runs] == ["local", "builtin"]
    assert all(run.exit_code == 0 for run in result.runs)
    assert (ctx.workdir / "secret-scan" / "repo-1" / "settings.py").is_file()


@pytest.mark.smoke
def test_file_repositories_are_refused_unless_the_operator_allows_them(
    step_context: StepContextFactory, leaky_repo: str
) -> None:
    result = secret_scan.run(step_context(items=[Item("repo", leaky_repo)]))

    assert result.runs == [] and result.findings == []
    assert (
        "not cloned: the file protocol is not allowed (allowed: https, ssh)" in step_context.logs[0]
    )


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch /tmp/outpost-pwned",
        "-u",
        "ext::sh -c touch% /tmp/outpost-pwned",
        "ext::true",
        "fd::17",
        "https://127.0.0.1/repo.git\n--upload-pack=x",
        "/srv/git/repo",
        "ftp://127.0.0.1/repo.git",
    ],
)
def test_urls_git_must_not_see_are_refused(url: str, file_repos_allowed: None) -> None:
    if url == "/srv/git/repo":  # a plain path is a file clone: allowed here on purpose
        assert secret_scan.repo_url_problem(url) == ""
        return
    assert secret_scan.repo_url_problem(url)
    assert secret_scan.commands({}, [Item("repo", url)]) == []


def test_a_repository_that_cannot_be_cloned_fails_the_step(
    step_context: StepContextFactory, tmp_path: Path, file_repos_allowed: None
) -> None:
    missing = f"file://{tmp_path / 'missing.git'}"

    result = secret_scan.run(step_context(items=[Item("repo", missing)]))

    assert result.error.startswith("git clone exited 128")
    assert f"{missing}: git clone exited 128" in step_context.logs[0]
    assert result.findings == []
    assert len(result.runs) == 1  # the scan of a checkout that does not exist never ran


def test_secrets_are_masked_to_four_characters_at_most() -> None:
    assert secret_scan.mask("ghp_abcdefghijklmnop") == "ghp_***"
    assert secret_scan.mask("hunter2") == "***"
    assert secret_scan.mask("") == "***"
