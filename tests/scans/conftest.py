"""Fixtures for runner tests: a real StepContext without a database.

    ctx = step_context(config={"ports": "22,80"}, items=[Item("host", "127.0.0.1")])
    result = port_scan.run(ctx)
    assert step_context.logs ...

The default scope is the loopback addresses 127.0.0.1 and ::1 only (not the name "localhost", so
tests can prove a runner does not follow a redirect or a CNAME out of scope); pass `in_scope` to
use another rule. `step_context.cancel()` makes `ctx.is_cancelled()` true from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from scans.engine.executors.local import LocalExecutor
from scans.engine.runtime import Executor, FindingData, StepContext
from scans.tools.kit.values import parse_service
from targets.items import Item

LOOPBACK = frozenset({"127.0.0.1", "::1"})


def item_host(item: Item) -> str:
    """The host an item points at (for scope rules in tests)."""
    if item.kind == "host":
        return item.value
    if item.kind == "service":
        return parse_service(item.value)[0]
    if item.kind in {"url", "repo"}:
        return (urlsplit(item.value).hostname or "").lower()
    return ""


def hosts_scope(hosts: Iterable[str]) -> Callable[[Item], bool]:
    """A scope rule that admits items on these hosts, and file:// repos (made by tests)."""
    allowed = frozenset(hosts)

    def in_scope(item: Item) -> bool:
        if item.kind == "repo" and item.value.startswith("file://"):
            return True
        return item_host(item) in allowed

    return in_scope


class StepContextFactory:
    """Builds StepContexts and records what the runners did with them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.logs: list[str] = []
        self.heartbeats = 0
        self.scope_checks: list[Item] = []
        self.cancelled = False
        self.cancel_checks = 0
        self._made = 0

    def cancel(self) -> None:
        self.cancelled = True

    def __call__(
        self,
        *,
        config: dict[str, Any] | None = None,
        items: Iterable[Item] = (),
        findings: Iterable[FindingData] = (),
        node_type: str = "test",
        in_scope: Callable[[Item], bool] | None = None,
        executor: Executor | None = None,
        timeout_s: float = 60.0,
        is_cancelled: Callable[[], bool] | None = None,
    ) -> StepContext:
        self._made += 1
        workdir = self.workdir / f"step-{self._made}"
        workdir.mkdir(parents=True, exist_ok=True)
        scope = in_scope or hosts_scope(LOOPBACK)

        def checked_scope(item: Item) -> bool:
            self.scope_checks.append(item)
            return scope(item)

        def heartbeat() -> None:
            self.heartbeats += 1

        def cancelled() -> bool:
            self.cancel_checks += 1
            return self.cancelled or bool(is_cancelled and is_cancelled())

        return StepContext(
            scan_id=1,
            step_id=self._made,
            node_id=f"{node_type}-{self._made}",
            node_type=node_type,
            team_id=1,
            config=dict(config or {}),
            items=list(items),
            findings=list(findings),
            timeout_s=timeout_s,
            workdir=workdir,
            executor=executor or LocalExecutor(),
            in_scope=checked_scope,
            log=self.logs.append,
            heartbeat=heartbeat,
            is_cancelled=cancelled,
        )


@pytest.fixture
def step_context(tmp_path: Path) -> StepContextFactory:
    return StepContextFactory(tmp_path / "steps")
