"""The `outpost` console script, run as a subprocess against a live server (pytest-django's
`live_server`, on the test database) with a real API key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from accounts.models import Team, User
from accounts.services import IssuedKey

OUTPOST = Path(sys.executable).parent / "outpost"
SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli_env(
    transactional_db: None,
    live_server: Any,
    user: User,
    team: Team,
    issue_key: Callable[..., IssuedKey],
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTPOST_")}
    env["OUTPOST_URL"] = live_server.url
    env["OUTPOST_API_KEY"] = issue_key(user, team).raw_key
    return env


@pytest.fixture
def outpost(cli_env: dict[str, str]) -> Callable[..., CliRun]:
    """Run `outpost ARGS…` (the installed console script) and capture its exit code and streams."""

    def run(*args: str, env: dict[str, str] | None = None, timeout_s: float = 240) -> CliRun:
        done = subprocess.run(
            [str(OUTPOST), *args], env=env if env is not None else cli_env,
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
        return CliRun(done.returncode, done.stdout, done.stderr)

    return run


def assert_valid_sarif(log: dict[str, Any]) -> None:
    """Valid against the official SARIF 2.1.0 schema (tests/data, see its README)."""
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema).validate(log)
    assert log["version"] == "2.1.0"
