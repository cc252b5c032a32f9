"""Where a team hears about its scans (Slack, Discord, a signed webhook, e-mail), what was sent
there (deliveries), when to send (notification rules), and scans that run on a schedule.

Secrets (webhook URLs, signing secrets) are stored only as a Fernet token (`integrations.crypto`);
the row keeps a masked hint for display, never the clear value.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Team
from integrations.crypto import SecretUnreadable, secrets_decrypt


class IntegrationKind(models.TextChoices):
    SLACK = "slack", "Slack"
    DISCORD = "discord", "Discord"
    WEBHOOK = "webhook", "Webhook"
    EMAIL = "email", "E-mail"


# Kinds that post to a URL (the URL is the secret: whoever has it can post to the channel).
URL_KINDS = (IntegrationKind.SLACK, IntegrationKind.DISCORD, IntegrationKind.WEBHOOK)


class Integration(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(max_length=10, choices=IntegrationKind.choices)
    name = models.CharField(max_length=100)
    is_enabled = models.BooleanField(default=True)
    # Fernet token of a JSON object {"url": ..., "signing_secret": ...}; see integrations.crypto.
    secrets_encrypted = models.TextField(blank=True, default="")
    # What the pages and the API show instead: "https://hooks.slack.com/…a1b2".
    destination_hint = models.CharField(max_length=200, blank=True, default="")
    # Non-secret settings: e-mail recipients.
    config = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["team", "kind"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def recipients(self) -> list[str]:
        return list((self.config or {}).get("recipients") or [])

    @property
    def destination(self) -> str:
        """What to show for where messages go (masked for URL kinds)."""
        if self.kind == IntegrationKind.EMAIL:
            return ", ".join(self.recipients)
        return self.destination_hint

    def secrets(self) -> dict[str, Any]:
        """The decrypted secrets; raises integrations.crypto.SecretUnreadable."""

        return secrets_decrypt(self.secrets_encrypted)

    @property
    def secrets_readable(self) -> bool:

        if self.kind == IntegrationKind.EMAIL:
            return True
        try:
            self.secrets()
        except SecretUnreadable:
            return False
        return True


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class DeliveryEvent(models.TextChoices):
    TEST = "test", "Test message"
    SCAN_COMPLETED = "scan_completed", "Scan completed"
    SCAN_FAILED = "scan_failed", "Scan failed"
    NEW_FINDING = "new_finding", "New findings"
    WORKFLOW = "workflow", "Workflow alert node"
    MANUAL = "manual", "Sent on demand"
    SCHEDULE_FAILED = "schedule_failed", "Scheduled scan could not start"
    ASSET_CHANGES = "asset_changes", "Inventory changes"
    ACCEPTANCE_EXPIRED = "acceptance_expired", "Accepted risks expired"


class Delivery(models.Model):
    """One message to one integration, sent by a worker task, with its attempts."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="deliveries"
    )
    scan = models.ForeignKey(
        "scans.Scan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event = models.CharField(max_length=20, choices=DeliveryEvent.choices)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # Platform-neutral message (integrations.messages.Message): what was said, never where.
    payload = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # [{"at", "response_code", "error", "duration_ms"}] one entry per attempt.
    attempt_log = models.JSONField(default=list, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Set for rule-triggered messages so a repeated signal cannot send twice.
    dedup_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["integration", "-created_at"])]

    def __str__(self) -> str:
        return f"delivery #{self.pk} to {self.integration_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)


class RuleEvent(models.TextChoices):
    SCAN_COMPLETED = "scan_completed", "Scan completed"
    SCAN_FAILED = "scan_failed", "Scan failed"
    NEW_FINDING = "new_finding", "New finding"
    ACCEPTANCE_EXPIRED = "acceptance_expired", "Accepted risk expired (the finding reopens)"
    # Inventory events (integrations.asset_rules): what a scan saw for the first time.
    NEW_SERVICE = "new_service", "New service"
    NEW_DOMAIN = "new_domain", "New subdomain"
    CERTIFICATE_EXPIRING = "certificate_expiring", "Certificate expires soon"
    TECHNOLOGY_SEEN = "technology_seen", "Technology appears"


ASSET_RULE_EVENTS = (
    RuleEvent.NEW_SERVICE,
    RuleEvent.NEW_DOMAIN,
    RuleEvent.CERTIFICATE_EXPIRING,
    RuleEvent.TECHNOLOGY_SEEN,
)


class NotificationRule(models.Model):
    """On a scan event, send to an integration. `min_severity` applies to new findings, `days`
    to expiring certificates, `technology` (names, comma-separated) to technologies appearing."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="notification_rules")
    event = models.CharField(max_length=24, choices=RuleEvent.choices)
    min_severity = models.CharField(max_length=8, default="high")
    days = models.PositiveSmallIntegerField(
        default=30, help_text="certificate_expiring: certificates that expire within this many days"
    )
    technology = models.CharField(
        max_length=200, blank=True, help_text="technology_seen: technology names, comma-separated"
    )
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="rules")
    is_enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["event", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "event"], name="rule_unique_event")
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.integration_id}"


class ScanSchedule(models.Model):
    """A workflow run on targets by cron expression or every N hours, through a django-q2
    Schedule that calls `integrations.tasks.schedule_fire`. Consent is given once, at creation,
    by the person who created it; each run starts as that person."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="scan_schedules")
    name = models.CharField(max_length=120)
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="schedules"
    )
    targets = models.ManyToManyField("targets.Target", related_name="schedules")
    cron = models.CharField(max_length=100, blank=True)
    every_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    is_paused = models.BooleanField(default=False)
    has_consent = models.BooleanField(default=False)
    consented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consented_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_scan = models.ForeignKey(
        "scans.Scan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_error = models.TextField(blank=True)
    runs_count = models.PositiveIntegerField(default=0)
    failures_count = models.PositiveIntegerField(default=0)
    q_schedule = models.OneToOneField(
        "django_q.Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def cadence(self) -> str:
        if self.cron:
            return f"cron {self.cron}"
        hours = self.every_hours or 0
        return "every hour" if hours == 1 else f"every {hours} hours"

    @property
    def next_run_at(self) -> Any:
        """When the django-q2 scheduler will fire it next (None while paused)."""
        if self.is_paused or self.q_schedule is None:
            return None
        return self.q_schedule.next_run

    @property
    def last_failed(self) -> bool:
        return bool(self.last_error)
