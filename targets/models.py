"""A team's authorized scope: one Target per authorized (or excluded) domain, address, range,
URL, container image or git repository, with who authorized it, when, and until when."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from targets.items import Item
from targets.parsing import MAX_VALUE_LENGTH

EXPIRING_SOON = timedelta(days=7)
NOTE_MAX_LENGTH = 4000


class TargetKind(models.TextChoices):
    DOMAIN = "domain", "Domain"
    IP = "ip", "IP address"
    CIDR = "cidr", "CIDR range"
    URL = "url", "URL"
    IMAGE = "image", "Container image"
    REPO = "repo", "Git repository"


class Target(models.Model):
    """One scope entry. `value` is normalized (targets.parsing) and is what scope checks and
    tools see; `raw_value` is what the user typed. An exclusion (`excluded=True`) beats any
    inclusion and never expires.

    A value appears at most once per team and kind, included or excluded: the same value both
    included and excluded would be contradictory (the exclusion would win, the inclusion would
    be dead weight), so the second is refused, naming the first."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(max_length=16, choices=TargetKind.choices)
    value = models.CharField(max_length=MAX_VALUE_LENGTH)
    raw_value = models.CharField(max_length=MAX_VALUE_LENGTH, blank=True)
    excluded = models.BooleanField(
        default=False, help_text="An exclusion: never in scope, whatever else is listed"
    )
    note = models.TextField(
        blank=True,
        max_length=NOTE_MAX_LENGTH,
        help_text="The written permission: who granted it, ticket link",
    )
    authorized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    authorized_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The authorization ends then"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "kind", "value"], name="target_unique_team_kind_value"
            ),
        ]
        indexes = [
            models.Index(fields=["team", "expires_at"], name="target_team_expires"),
        ]

    def __str__(self) -> str:
        return f"{'not ' if self.excluded else ''}{self.value}"

    @property
    def label(self) -> str:
        return f"#{self.pk} {self.value}"

    def is_expired(self, at: Any = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (at or timezone.now())

    @property
    def state(self) -> str:
        """excluded | expired | expiring (within 7 days) | active."""
        if self.excluded:
            return "excluded"
        now = timezone.now()
        if self.is_expired(now):
            return "expired"
        if self.expires_at is not None and self.expires_at - now <= EXPIRING_SOON:
            return "expiring"
        return "active"

    def covers(self, item: Item, at: Any = None) -> bool:
        """Whether this target alone would let `item` in (ignoring the team's exclusions).
        For whole-scope answers use targets.scope.ScopeMatcher, which applies exclusions."""
        # Function-level: targets.scope imports this module (Target) at its top (a cycle).
        from targets.scope import covers

        return not self.excluded and not self.is_expired(at) and covers(self.kind, self.value, item)

    def scan_items(self, max_hosts: int = 1024) -> list[Item]:
        """What a scan of this target starts from.

        domain -> the host; `*.example.com` -> the apex host only when the apex is itself in
        scope (a wildcard authorizes subdomains, not the apex; subdomains are found by the
        workflow, e.g. DNS enumeration), else nothing; ip -> the host; cidr -> one host per
        usable address (network and broadcast addresses of IPv4 ranges are skipped), refused
        above `max_hosts`; url, image, repo -> one item. Exclusions and expired targets -> [].
        Every item is still scope-checked by the engine before a tool touches it."""
        if self.excluded or self.is_expired():
            return []
        if self.kind == TargetKind.DOMAIN:
            if self.value.startswith("*."):
                from targets.scope import ScopeMatcher  # cycle: targets.scope imports Target

                apex = Item("host", self.value[2:])
                return [apex] if ScopeMatcher.for_team(self.team_id).check(apex).in_scope else []
            return [Item("host", self.value)]
        if self.kind == TargetKind.IP:
            return [Item("host", self.value)]
        if self.kind == TargetKind.CIDR:
            network = ipaddress.ip_network(self.value)
            usable = network.num_addresses
            if network.version == 4 and network.prefixlen < 31:
                usable -= 2
            elif network.version == 6 and network.prefixlen < 127:
                usable -= 1  # the subnet-router anycast address
            if usable > max_hosts:
                raise ValidationError(
                    f"{self.value} has {usable:,} addresses; a scan starts from at most {max_hosts:,}. "
                    "Split the range into smaller targets or raise the limit.",
                    code="too_many_hosts",
                )
            return [Item("host", str(address)) for address in network.hosts()]
        if self.kind in (TargetKind.URL, TargetKind.IMAGE, TargetKind.REPO):
            return [Item(str(self.kind), self.value)]
        return []
