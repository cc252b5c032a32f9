"""The team's asset inventory: what scans discovered (hosts, services, URLs), first and last seen."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import Team
from scans.models.scans import Scan


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
