"""gitleaks' first command, the clone on the worker, runs for real (git, local executor); a clone
that fails fails the step with git's reason and gitleaks is never started."""

from __future__ import annotations

import socket
from typing import Any

from scans.tools import gitleaks
from targets.items import Item


def test_a_repository_that_cannot_be_cloned_fails_the_step_with_gits_reason(
    step_context: Any,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, not listening: connections are refused
        url = f"https://127.0.0.1:{closed}/team/app.git"
        ctx = step_context(items=[Item("repo", url)], timeout_s=60)

        result = gitleaks.run(ctx)

    [clone] = result.runs  # gitleaks itself never ran
    assert clone.executor == "local"
    assert clone.argv[0] == "git" and clone.argv[-3:] == ["--", url, "repo"]
    assert result.error.startswith(f"{url}: clone failed: exited with code 128")
    assert "127.0.0.1" in result.error
    assert result.findings == []
