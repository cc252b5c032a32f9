"""Scans (one execution of a workflow), their steps, logs, findings, artifacts and the asset
inventory."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Team
from scans.engine.runtime import FindingData


class ScanStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


SCAN_TERMINAL = {ScanStatus.COMPLETED, ScanStatus.FAILED, ScanStatus.CANCELLED}
STEP_TERMINAL = {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.SKIPPED}


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFO = "info", "Info"


def severity_rank_expression() -> Any:
    """An ORDER BY expression: critical=4 … info=0 (sort with `-severity_rank` for worst first)."""
    from django.db.models import Case, IntegerField, Value, When

    return Case(
        *[
            When(severity=name, then=Value(rank))
            for rank, name in enumerate(reversed(Severity.values))
        ],
        default=Value(0),
        output_field=IntegerField(),
    )


class _Timed:
    """What scans and steps share: a status that may be final, a start and an end."""

    status: str
    started_at: Any
    finished_at: Any
    final_statuses: AbstractSet[str] = frozenset()

    @property
    def is_finished(self) -> bool:
        return self.status in self.final_statuses

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return round((end - self.started_at).total_seconds(), 1)


class Scan(_Timed, models.Model):
    final_statuses = SCAN_TERMINAL

    class Mode(models.TextChoices):
        RUN = "run", "Run"
        DRY_RUN = "dry_run", "Dry run"

    class Source(models.TextChoices):
        WORKFLOW = "workflow", "Workflow"
        IMPORT = "import", "Imported report"
        DOCKER_API = "docker_api", "CI image scan"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="scans")
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.SET_NULL, related_name="scans"
    )
    workflow_name = models.CharField(max_length=200, blank=True)
    workflow_revision = models.PositiveIntegerField(null=True, blank=True)
    graph = models.JSONField(default=dict, blank=True, help_text="The exact graph this scan ran")
    targets = models.ManyToManyField("targets.Target", blank=True, related_name="scans")
    # Snapshot of what was authorized when the scan started (targets can change later).
    target_snapshot = models.JSONField(default=list, blank=True)
    # Comparable identity of the target set, for "the previous scan of the same targets".
    targets_key = models.CharField(max_length=64, blank=True, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WORKFLOW)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.RUN)
    has_consent = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=ScanStatus.choices, default=ScanStatus.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    plan = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    steps_total = models.PositiveIntegerField(default=0)
    steps_done = models.PositiveIntegerField(default=0)
    items_count = models.PositiveIntegerField(default=0)
    findings_count = models.PositiveIntegerField(default=0)
    severity_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["team", "-created_at"]),
            models.Index(fields=["team", "status"]),
            models.Index(fields=["workflow", "targets_key", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"Scan #{self.pk} {self.workflow_name} ({self.status})"

    def progress_percent(self) -> int:
        if not self.steps_total:
            return 100 if self.is_finished else 0
        return int(100 * self.steps_done / self.steps_total)


class ScanStep(_Timed, models.Model):
    final_statuses = STEP_TERMINAL

    """One node of the scan's graph. Attempts, backoff and timeouts live here, not in the queue."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="steps")
    node_id = models.CharField(max_length=64)
    node_type = models.CharField(max_length=40)
    config = models.JSONField(default=dict, blank=True)
    parents = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Topological order")
    status = models.CharField(
        max_length=10, choices=StepStatus.choices, default=StepStatus.PENDING, db_index=True
    )
    attempt = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    timeout_s = models.PositiveIntegerField(default=600)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Backoff or delay")
    executor = models.CharField(max_length=16, blank=True)
    commands = models.JSONField(default=list, blank=True, help_text="[{argv, image}] as run")
    image = models.CharField(max_length=300, blank=True)
    image_digest = models.CharField(max_length=300, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    stdout_tail = models.TextField(blank=True)
    stderr_tail = models.TextField(blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=120, blank=True)
    items_in = models.PositiveIntegerField(default=0)
    items_out = models.PositiveIntegerField(default=0)
    findings_count = models.PositiveIntegerField(default=0)
    output_items = models.JSONField(default=list, blank=True)
    output_findings = models.JSONField(default=list, blank=True, help_text="Fingerprints passed on")
    out_of_scope = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["scan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "node_id"], name="scanstep_unique_node")
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.node_id} ({self.node_type}) of scan #{self.scan_id}"


class ScanLog(models.Model):
    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="logs")
    step = models.ForeignKey(
        ScanStep, null=True, blank=True, on_delete=models.CASCADE, related_name="logs"
    )
    created_at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    message = models.TextField()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["scan", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%H:%M:%S} {self.message[:80]}"


# A foreign key without an index or a database constraint (see Finding, FindingState).
_UNCHECKED_KEY: dict[str, Any] = {"db_index": False, "db_constraint": False}


class Finding(models.Model):
    """One normalized finding of one scan. `fingerprint` identifies it across scans."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FALSE_POSITIVE = "false_positive", "False positive"
        ACCEPTED = "accepted", "Accepted"
        FIXED = "fixed", "Fixed"

    # Every index and foreign-key check costs each stored finding (a 20,000-finding report makes
    # 20,000 entries in each index and 20,000 checks per key at commit). `team` and `scan` need no
    # index of their own: the composite indexes lead with them. Only `scan` is a constraint; the
    # team is the scan's team (denormalized for the indexes), the step one of the scan's steps
    # (deleted only with it, never looked up); Django's delete collector cascades both.
    team = models.ForeignKey(Team, models.CASCADE, related_name="findings", **_UNCHECKED_KEY)
    scan = models.ForeignKey(Scan, models.CASCADE, related_name="findings", db_index=False)
    step = models.ForeignKey(
        ScanStep,
        models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="findings",
        **_UNCHECKED_KEY,
    )
    tool = models.CharField(max_length=40)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.INFO)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    remediation = models.TextField(blank=True)
    rule_id = models.CharField(max_length=200, blank=True)
    component = models.CharField(max_length=300, blank=True)
    version = models.CharField(max_length=200, blank=True)
    fixed_version = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=1000, blank=True)
    item = models.CharField(max_length=1000, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    references = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    # The newest occurrence of this fingerprint in the team: the cross-scan findings list shows
    # one row per fingerprint (scans.findings.queries), kept by scans.findings.storage.findings_store.
    is_latest = models.BooleanField(default=True)
    # critical=4 … info=0, computed by the database so that "worst first" can use an index.
    severity_rank = models.GeneratedField(
        expression=severity_rank_expression(),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One row per fingerprint in a scan (the scan fixes the team, so this is unique per
            # scan), and the index of a fingerprint's rows in the team (triage, history, "latest"
            # bookkeeping): one index for both. Look a scan's fingerprints up with its team_id.
            models.UniqueConstraint(
                fields=["team", "fingerprint", "scan"], name="finding_unique_per_scan"
            )
        ]
        indexes = [
            # The findings list (scans.findings.queries.FINDING_SORTS): filter + sort, one row per
            # fingerprint. Partial: only the latest occurrences are listed across scans. A
            # severity filter is a severity_rank filter (scans.findings.queries), so the rank index
            # also serves "high, newest first".
            *[
                models.Index(fields=fields, name=name, condition=models.Q(is_latest=True))
                for name, fields in (
                    ("finding_latest_rank", ["team", "severity_rank", "last_seen_at", "id"]),
                    (
                        "finding_latest_st_rank",
                        ["team", "status", "severity_rank", "last_seen_at", "id"],
                    ),
                    ("finding_latest_seen", ["team", "last_seen_at", "id"]),
                    ("finding_latest_first", ["team", "first_seen_at", "id"]),
                    ("finding_latest_rule", ["team", "rule_id"]),
                    (
                        "finding_latest_tool",
                        ["team", "tool", "severity_rank", "last_seen_at", "id"],
                    ),
                )
            ],
            # A scan's findings, worst first, and its per-severity counts.
            models.Index(fields=["scan", "severity_rank", "id"], name="finding_scan_rank"),
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"

    def as_data(self) -> Any:
        return FindingData(
            tool=self.tool, severity=self.severity, title=self.title, rule_id=self.rule_id,
            description=self.description, remediation=self.remediation, component=self.component,
            version=self.version, fixed_version=self.fixed_version, location=self.location,
            item=self.item, evidence=self.evidence, references=self.references, tags=self.tags,
        )  # fmt: skip


class Asset(models.Model):
    """The team's inventory of discovered hosts, services and URLs, updated by every scan."""

    class Kind(models.TextChoices):
        HOST = "host", "Host"
        SERVICE = "service", "Service"
        URL = "url", "URL"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=1000)
    attrs = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    last_scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(fields=["team", "kind", "value"], name="asset_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"


class Artifact(models.Model):
    """A raw tool output kept on disk (var/artifacts), not in the database."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="artifacts")
    step = models.ForeignKey(
        ScanStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="artifacts"
    )
    name = models.CharField(max_length=200)
    path = models.CharField(max_length=500, help_text="Relative to ARTIFACTS_DIR")
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scan", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def absolute_path(self) -> Any:
        return settings.ARTIFACTS_DIR / self.path


# --- Triage, history, reports and the dashboard's daily figures (issue 7) ----------------------


class FindingState(models.Model):
    """The triage state of one fingerprint in a team: it outlives the scans, so the same finding
    found again by the next scan keeps its status (scans.findings.triage, scans.findings.storage)."""

    # findingstate_unique (team, fingerprint) is the team's index. Not a constraint (20,000
    # checks a report): states are written by a scan of the team, in the transaction that checks
    # its findings' scan key, or by a request of a member.
    team = models.ForeignKey(Team, models.CASCADE, related_name="finding_states", **_UNCHECKED_KEY)
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=Finding.Status.choices, default=Finding.Status.OPEN
    )
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.INFO)
    comment = models.TextField(blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(null=True, blank=True, help_text="Last triage")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "fingerprint"], name="findingstate_unique")
        ]
        indexes = [models.Index(fields=["team", "status", "severity"], name="findingstate_counts")]

    def __str__(self) -> str:
        return f"{self.fingerprint[:12]} {self.status}"


class FindingEvent(models.Model):
    """One change of a fingerprint's status: who, when, from what, to what, and why."""

    class Kind(models.TextChoices):
        TRIAGE = "triage", "Triage"
        REOPENED = "reopened", "Seen again"
        AUTO_FIXED = "auto_fixed", "Not seen by the next scan"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TRIAGE)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    comment = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["team", "fingerprint", "created_at"], name="findingevent_history")
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint[:12]} {self.from_status}→{self.to_status}"


class Report(models.Model):
    """A PDF report of one scan, rendered by a worker task (scans.reports.pdf) into ARTIFACTS_DIR."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="reports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    path = models.CharField(max_length=500, blank=True, help_text="Relative to ARTIFACTS_DIR")
    size = models.BigIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    findings_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    render_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["scan", "created_at"], name="report_scan_created")]

    def __str__(self) -> str:
        return f"Report #{self.pk} of scan #{self.scan_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RENDERING)

    @property
    def absolute_path(self) -> Any:
        return settings.ARTIFACTS_DIR / self.path


class OpenFindingsDay(models.Model):
    """The team's open findings at the end of a day (today's row is refreshed as scans finish and
    findings are triaged): the dashboard reads 31 small rows instead of counting 1M findings."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    counts = models.JSONField(default=dict, help_text="{severity: open findings}")
    total = models.PositiveIntegerField(default=0)
    top_assets = models.JSONField(default=list, help_text="[{item, score, counts}] worst first")
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team", "day"]
        constraints = [
            models.UniqueConstraint(fields=["team", "day"], name="openfindingsday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.total} open"
