"""The team's attack-surface inventory: what scans and imports discovered (domains, IPs,
services, URLs, certificates, technologies, images, repositories, screenshots), how they relate,
which scan saw what, and each asset's history.

Written only by `scans.assets.recording` (docs/inventory.md says which item attrs it reads).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from accounts.models import Team
from scans.models.scans import Scan

# A foreign key without an index or a database constraint: rows written in bulk (COPY) would pay
# a check per row; the composite indexes below lead with the column where it is looked up.
_UNCHECKED_KEY: dict[str, Any] = {"db_index": False, "db_constraint": False}


class AssetKind(models.TextChoices):
    DOMAIN = "domain", "Domain"
    IP = "ip", "IP address"
    SERVICE = "service", "Service"
    URL = "url", "URL"
    CERTIFICATE = "certificate", "Certificate"
    TECHNOLOGY = "technology", "Technology"
    SCREENSHOT = "screenshot", "Screenshot"
    IMAGE = "image", "Image"
    REPO = "repo", "Repository"


class Asset(models.Model):
    """One thing the team exposes, identified by (kind, value): a domain name, an address, a
    service `host:port/proto`, a URL, a certificate's SHA-256, a technology's name, an image
    reference, a repository URL, a URL's screenshot. `attrs` holds what tools reported about it
    (docs/inventory.md); the columns hold what lists filter and sort on.

    `parent` is the structural owner: a service's host (domain or IP), a URL's service, a
    screenshot's URL. `certificate` is the certificate a TLS service presented last. Other
    relations (a domain resolves to IPs, an alias, a technology found on a URL) are AssetLinks."""

    Kind = AssetKind

    team = models.ForeignKey(Team, models.CASCADE, related_name="assets", **_UNCHECKED_KEY)
    kind = models.CharField(max_length=12, choices=AssetKind.choices)
    value = models.CharField(max_length=2000)
    attrs = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(
        "self", models.SET_NULL, null=True, blank=True, related_name="children", **_UNCHECKED_KEY
    )
    certificate = models.ForeignKey(
        "self", models.SET_NULL, null=True, blank=True, related_name="served_by", **_UNCHECKED_KEY
    )
    port = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    in_scope = models.BooleanField(
        default=True, help_text="Covered by the team's targets when last seen (else a lead)"
    )
    open_findings = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    first_scan = models.ForeignKey(
        Scan, models.SET_NULL, null=True, blank=True, related_name="+", **_UNCHECKED_KEY
    )
    last_scan = models.ForeignKey(
        Scan, models.SET_NULL, null=True, blank=True, related_name="+", **_UNCHECKED_KEY
    )
    gone_at = models.DateTimeField(
        null=True, blank=True, help_text="A later scan of the same scope no longer saw it"
    )

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "kind", "value"], name="asset_unique")
        ]
        indexes = [
            # The inventory list (scans.assets.queries.ASSET_SORTS): newest sightings first, per
            # kind (the tabs) and across kinds; first seen; with open findings.
            models.Index(fields=["team", "kind", "last_seen_at", "id"], name="asset_kind_seen"),
            models.Index(fields=["team", "last_seen_at", "id"], name="asset_seen"),
            models.Index(fields=["team", "kind", "first_seen_at", "id"], name="asset_kind_first"),
            models.Index(
                fields=["team", "port", "last_seen_at", "id"],
                name="asset_port",
                condition=models.Q(port__isnull=False),
            ),
            models.Index(
                fields=["team", "status_code", "last_seen_at", "id"],
                name="asset_status",
                condition=models.Q(status_code__isnull=False),
            ),
            models.Index(
                fields=["team", "last_seen_at", "id"],
                name="asset_with_findings",
                condition=models.Q(open_findings__gt=0),
            ),
            models.Index(fields=["parent"], name="asset_parent"),
            models.Index(fields=["certificate"], name="asset_certificate"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"

    @property
    def is_gone(self) -> bool:
        return self.gone_at is not None


class AssetLink(models.Model):
    """A relation between two assets of a team that is not structural: a domain resolves to an
    IP, is an alias (CNAME) of another name, has MX/NS hosts; a URL or service runs a technology;
    a URL was captured in a screenshot."""

    class Relation(models.TextChoices):
        RESOLVES_TO = "resolves_to", "resolves to"
        ALIAS_OF = "alias_of", "is an alias of"
        MAIL_HOST = "mail_host", "has mail host"
        NAME_SERVER = "name_server", "has name server"
        RUNS = "runs", "runs"

    team = models.ForeignKey(Team, models.CASCADE, related_name="+", **_UNCHECKED_KEY)
    source = models.ForeignKey(Asset, models.CASCADE, related_name="links_out", db_index=False)
    target = models.ForeignKey(Asset, models.CASCADE, related_name="links_in")
    relation = models.CharField(max_length=16, choices=Relation.choices)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["relation", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "relation", "target"], name="assetlink_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.relation} {self.target_id}"


class ScanAsset(models.Model):
    """One asset as one scan saw it: new (first seen by this scan), reappeared (was gone),
    changed (a tracked attribute differs, see AssetEvent), seen (unchanged), or gone (the
    previous scan of the same scope saw it, this one did not). A scan's change set is its rows
    other than `seen`."""

    class Change(models.TextChoices):
        NEW = "new", "New"
        REAPPEARED = "reappeared", "Seen again"
        CHANGED = "changed", "Changed"
        SEEN = "seen", "Unchanged"
        GONE = "gone", "Gone"

    # Unchecked like the asset: a first scan of 70,000 assets COPYs 70,000 sightings, and the
    # deferred check of each against its scan made the commit cost ~1/3 of the COPY again.
    # Deleting a scan deletes its sightings through the ORM (CASCADE), as for every asset key.
    scan = models.ForeignKey(Scan, models.CASCADE, related_name="asset_sightings", **_UNCHECKED_KEY)
    asset = models.ForeignKey(Asset, models.CASCADE, related_name="sightings", **_UNCHECKED_KEY)
    kind = models.CharField(max_length=12, choices=AssetKind.choices)
    change = models.CharField(max_length=10, choices=Change.choices, default=Change.SEEN)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scan", "asset"], name="scanasset_unique"),
        ]
        indexes = [
            models.Index(fields=["scan", "change", "kind"], name="scanasset_changes"),
            models.Index(fields=["asset", "scan"], name="scanasset_asset"),
        ]

    def __str__(self) -> str:
        return f"scan #{self.scan_id}: asset {self.asset_id} {self.change}"


class AssetEvent(models.Model):
    """A change in an asset's history (its first sighting is `Asset.first_seen_at`): what
    changed (`changes`: {attribute: [before, after]}), went away, or came back, and which scan
    saw it."""

    class Kind(models.TextChoices):
        CHANGED = "changed", "Changed"
        GONE = "gone", "Gone"
        REAPPEARED = "reappeared", "Seen again"

    team = models.ForeignKey(Team, models.CASCADE, related_name="+", **_UNCHECKED_KEY)
    asset = models.ForeignKey(Asset, models.CASCADE, related_name="events", db_index=False)
    scan = models.ForeignKey(Scan, models.SET_NULL, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["asset", "created_at"], name="assetevent_history")]

    def __str__(self) -> str:
        return f"asset {self.asset_id} {self.kind}"
