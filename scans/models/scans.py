"""Scans (one execution of a workflow), their steps, logs, raw-output artifacts and PDF reports."""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from typing import IO, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Team
from config.artifacts import artifact_exists, artifact_open
from scans.engine.sandbox.policy import blocked_summary


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
        # Walks the graph on the workers with synthetic items and findings, no tool, no
        # network, nothing stored as a finding (scans.engine.demo).
        DEMO = "demo", "Demo"

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
    # Re-queued after a fault of the database, broker or Docker engine (no attempt used).
    infra_retries = models.PositiveSmallIntegerField(default=0)
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
    # The claim of the attempt now running (a new token per claim, cleared when the reaper takes
    # the step back): every write of a worker is conditional on it, so a worker that lost its
    # claim (frozen, partitioned) cannot overwrite the attempt that replaced it.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    items_in = models.PositiveIntegerField(default=0)
    items_out = models.PositiveIntegerField(default=0)
    # Per-item progress of a running step (ctx.progress, written with the heartbeat).
    progress_done = models.PositiveIntegerField(null=True, blank=True)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    findings_count = models.PositiveIntegerField(default=0)
    output_items = models.JSONField(default=list, blank=True)
    output_findings = models.JSONField(default=list, blank=True, help_text="Fingerprints passed on")
    out_of_scope = models.JSONField(default=list, blank=True)
    # Scope enforced by the network (scans.engine.sandbox): "network" when every tool run of the
    # step was sandboxed, else why not; what the sandboxes refused: [{address, proto, port, count}].
    scope_enforcement = models.CharField(max_length=300, blank=True)
    blocked = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["scan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "node_id"], name="scanstep_unique_node")
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.node_id} ({self.node_type}) of scan #{self.scan_id}"

    @property
    def progress_percent(self) -> int | None:
        if not self.progress_total or self.progress_done is None:
            return None
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def wait_left_s(self) -> int | None:
        """Seconds until a queued step is due (a delay, or a retry's backoff); None otherwise."""
        if self.status != StepStatus.QUEUED or self.not_before is None:
            return None
        left = (self.not_before - timezone.now()).total_seconds()
        return max(0, math.ceil(left)) if left > 0 else None

    @property
    def waited_s(self) -> float | None:
        """How long a waiting node (delay) held before it ran: its wait counts in its time."""
        if self.not_before is None or self.queued_at is None or self.not_before <= self.queued_at:
            return None
        return round((self.not_before - self.queued_at).total_seconds(), 1)

    @property
    def blocked_lines(self) -> list[str]:
        """What the step's sandboxes refused, one sentence per destination."""
        return blocked_summary(self.blocked or [])


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


class Artifact(models.Model):
    """A raw tool output kept in the artifact storage (config.artifacts), not in the database."""

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
    def is_stored(self) -> bool:
        return artifact_exists(self.path)

    def open(self) -> IO[bytes]:
        """The stored file (config.artifacts: the local folder or the shared bucket)."""
        return artifact_open(self.path)


class Report(models.Model):
    """A PDF report of one scan, rendered by a worker task (scans.reports.pdf) into the artifact
    storage."""

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
    def is_stored(self) -> bool:
        return artifact_exists(self.path)

    def open(self) -> IO[bytes]:
        return artifact_open(self.path)
