"""The contract between the scan engine and the code that runs one workflow node.

A node type (registered in `workflows.nodes`) names a *runner* module. A runner module has:

    def commands(config: dict, items: list[Item]) -> list[Command]
        The exact commands the node will run for these input items: argv lists (never shell
        strings) and, for containerized tools, the image. Used by dry runs *and* by `run`, so a
        dry-run plan is what a real run executes. Built-in (pure Python) nodes describe their
        work as an argv too, e.g. ["builtin:port_scan", "--ports", "top-100", "127.0.0.1"].

    def run(ctx: StepContext) -> StepResult
        Do the work. Input items in `ctx.items` are already scope-checked; anything the node
        discovers itself (a redirect to another host, a CNAME) must pass `ctx.in_scope(item)`
        before the node touches it. Long work calls `ctx.heartbeat()` and stops early when
        `ctx.is_cancelled()` says so.

Items and findings are plain dataclasses so runners are testable without a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from scans.engine.sandbox.policy import NetworkScope
from targets.items import Item

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {
    name: rank for rank, name in enumerate(reversed(SEVERITIES))
}  # info=0 … critical=4


def severity_at_least(severity: str, minimum: str) -> bool:
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(minimum, 0)


def fingerprint_of(*, tool: str, rule_id: str, location: str, component: str) -> str:
    """Stable identity of a finding across scans: same tool, rule, place and component."""
    material = "\x1f".join((tool.lower(), rule_id.lower(), location.lower(), component.lower()))
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass
class FindingData:
    """A normalized finding, before it is stored (scans.models.Finding).

    docs/findings.md says what a parser must fill. The structured vulnerability fields (CVSS,
    CWE, CVE/GHSA, EPSS, KEV, fix) are filled from what the report carries, through the helpers of
    scans.engine.vulns; storing checks them again (`finding_vulns_clean`), so a malformed vector
    or a `javascript:` reference never reaches the table whichever parser wrote it."""

    tool: str
    severity: str  # one of SEVERITIES
    title: str
    rule_id: str = ""  # CVE / CWE / template id / secret rule (what findings are grouped by)
    description: str = ""
    remediation: str = ""
    component: str = ""  # package, library or service the finding is in
    version: str = ""  # the installed version of `component`
    fixed_version: str = ""  # the version(s) that fix it ("" when none is known)
    location: str = ""  # host:port, URL, file:line, image
    item: str = ""  # value of the Item the finding is about
    evidence: dict[str, Any] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)  # http(s) URLs; others are dropped
    tags: list[str] = field(default_factory=list)
    cvss_v3_vector: str = ""  # "CVSS:3.1/AV:N/…", validated; the score is computed from it
    cvss_v3_score: float | None = None  # base score 0-10 (from the vector when there is one)
    cvss_v4_vector: str = ""  # "CVSS:4.0/AV:N/…"
    cvss_v4_score: float | None = None
    cwe_ids: list[str] = field(default_factory=list)  # ["CWE-79"]
    vuln_ids: list[str] = field(default_factory=list)  # ["CVE-2024-1234", "GHSA-xxxx-xxxx-xxxx"]
    epss_score: float | None = None  # probability of exploitation in 30 days, 0-1
    epss_percentile: float | None = None  # 0-1
    is_kev: bool = False  # listed in CISA's Known Exploited Vulnerabilities catalog
    has_fix: bool = False  # a fixed version or a patch exists (set from fixed_version if "")

    @property
    def fingerprint(self) -> str:
        # Asked for several times per finding on the way to the database (dedup, store); the
        # hash is kept with the fields it was made of, so changing one of them recomputes it.
        key = (self.tool, self.rule_id, self.location, self.component)
        cached = self.__dict__.get("_fingerprint")
        if cached is not None and cached[0] == key:
            return str(cached[1])
        value = fingerprint_of(
            tool=self.tool, rule_id=self.rule_id, location=self.location, component=self.component
        )
        self.__dict__["_fingerprint"] = (key, value)
        return value

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FindingData:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Command:
    """One tool invocation: an argv list and, for containerized tools, the image."""

    argv: list[str]
    image: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"argv": list(self.argv), "image": self.image}


@dataclass
class ToolInvocation:
    """What an executor is asked to run."""

    argv: list[str]
    timeout_s: float
    workdir: Path  # a fresh host directory for this invocation
    image: str = ""  # docker executor only
    input_files: dict[str, Path] = field(default_factory=dict)  # mounted read-only at /input/<name>
    network: str = "none"  # docker network mode for this tool
    env: dict[str, str] = field(default_factory=dict)
    max_output_bytes: int = 8 * 1024 * 1024  # stdout+stderr cap; past it the tool is stopped
    memory_mb: int = 1024
    cpus: float = 1.0
    pids_limit: int = 256
    labels: dict[str, str] = field(default_factory=dict)
    cancel_check: Callable[[], bool] | None = None  # polled; True stops the tool
    # Docker only: a named volume kept between runs, mounted at /cache ($XDG_CACHE_HOME) for the
    # tool's downloads (vulnerability databases); made writable for the sandbox user with
    # `cache_init_image` the first time. Empty: no cache.
    cache_volume: str = ""
    cache_init_image: str = ""
    # Docker only: the helper image whose never-started container copies the input files in
    # (scans.engine.executors.staging); empty: TOOL_IMAGE_STAGER.
    stager_image: str = ""
    # Docker only: run inside a network sandbox reaching only this allowlist
    # (scans.engine.sandbox); None: the tool's own network mode.
    sandbox: NetworkScope | None = None
    # Docker only: Linux capabilities granted to the tool's container (cap_add) on top of
    # cap_drop=ALL, from its module's declaration (masscan's NET_RAW); empty for every other tool.
    capabilities: tuple[str, ...] = ()


@dataclass
class ToolRun:
    """What an executor did: recorded on the ScanStep (argv, image, exit code, output tails)."""

    argv: list[str]
    executor: str
    exit_code: int | None
    stdout: bytes = b""  # complete output up to the cap (raw artifact), tails go in the DB
    stderr: bytes = b""
    image: str = ""
    image_digest: str = ""
    timed_out: bool = False
    cancelled: bool = False
    output_truncated: bool = False
    duration_ms: float = 0.0
    error: str = ""  # why it did not complete (timeout, OOM, output cap, cannot pull image…)
    notes: list[str] = field(default_factory=list)  # for the scan log (e.g. ran without cache)
    infrastructure: bool = False  # `error` is the Docker engine being unreachable, not the tool
    # Scope enforcement: "network" (sandboxed), else why not ("" for tools without a network);
    # what the sandbox refused: [{address, proto, port, count}]; its set-up time.
    enforcement: str = ""
    blocked: list[dict[str, Any]] = field(default_factory=list)
    sandbox_setup_ms: float | None = None
    output_dir: Path | None = (
        None  # files the tool wrote (/output in docker, workdir/output locally)
    )

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.cancelled or self.error)


class Executor(Protocol):
    name: str

    def run(self, invocation: ToolInvocation) -> ToolRun: ...


@dataclass
class StepContext:
    """Everything a runner may use. Built by the engine for each step attempt."""

    scan_id: int
    step_id: int
    node_id: str
    node_type: str
    team_id: int
    config: dict[str, Any]  # validated, defaults applied
    items: list[Item]  # inputs, already scope-checked
    findings: list[FindingData]  # findings produced upstream (for logic and alert nodes)
    timeout_s: float
    workdir: Path
    executor: Executor
    in_scope: Callable[[Item], bool]
    log: Callable[[str], None]
    heartbeat: Callable[[], None]
    is_cancelled: Callable[[], bool]
    new_findings_only: Callable[[list[FindingData]], list[FindingData]] = lambda found: found
    # Per-item progress of a long step: `ctx.progress(done, total)` after each item. The engine
    # keeps the last figures in memory and the watcher writes them with its next heartbeat, so
    # calling it often costs no query; the scan page shows "12/18 items".
    progress: Callable[[int, int], None] = lambda done, total: None
    # This installation's id (config.deployment), set by the engine: tool containers carry it
    # so that only this deployment's reaper removes them. Empty outside the engine (tests).
    deployment: str = ""
    # The scope matcher's full verdict (targets.scope.Verdict: in_scope, reason, target_id),
    # for what needs more than yes/no (the sandbox leaves out excluded addresses). None in tests.
    scope_verdict: Callable[[Item], Any] | None = None
    # Built-in tools' connect-time scope check (scans.engine.sandbox.guard.ConnectGuard): their
    # HTTP clients connect through it. None: no check (SCOPE_ENFORCEMENT=off, tests).
    connect_guard: Any = None


@dataclass
class StepResult:
    items: list[Item] = field(default_factory=list)  # handed on to the next steps (and recorded)
    # Recorded in the asset inventory but not handed on: what a tool learned about assets that
    # its node does not emit (nuclei's matched URLs, the image Trivy scanned). docs/inventory.md.
    assets: list[Item] = field(default_factory=list)
    findings: list[FindingData] = field(default_factory=list)
    runs: list[ToolRun] = field(default_factory=list)
    artifacts: list[Path] = field(default_factory=list)  # raw outputs to keep (moved by the engine)
    error: str = ""  # non-empty: the step failed with this reason (after its runs are recorded)
    transient: bool = False  # the failure may pass on retry (network hiccup, engine busy)
    # The failure is the infrastructure's (database, broker, Docker engine away), not the
    # tool's: retried without using an attempt (scans.engine.faults).
    infrastructure: bool = False


class StepFailed(Exception):
    """Raised by a runner to fail its step with a clear reason."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
