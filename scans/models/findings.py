"""Findings (one normalized finding per fingerprint and scan), the team's triage state of each
fingerprint with its history, and the dashboard's daily open counts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Team
from scans.engine.runtime import FindingData
from scans.engine.vulns import cvss_rating, cwe_url, is_web_url, vuln_url
from scans.models.assets import Asset
from scans.models.scans import Scan, ScanStep


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


# A foreign key without an index or a database constraint (see Finding, FindingState).
_UNCHECKED_KEY: dict[str, Any] = {"db_index": False, "db_constraint": False}


def _user_key() -> Any:
    """A triage state's optional user (who updated, owns, asked for or approved it): no database
    constraint and no index of its own (_USER_KEY_INDEXES indexes it only where it is set);
    deleting the user clears it."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        **_UNCHECKED_KEY,
    )


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
    # The inventory asset the finding is about (its `item`), set when it is stored
    # (scans.assets.recording): the asset page lists its findings through finding_latest_asset.
    asset = models.ForeignKey(
        Asset, models.SET_NULL, null=True, blank=True, related_name="findings", **_UNCHECKED_KEY
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
    # Structured vulnerability fields (docs/findings.md: what a parser fills, and how
    # scans.tools.kit.vulns checks it). CVSS vectors are validated and scored with the `cvss`
    # library; `cvss_score` is the one filters and sorts use: v4.0 when known, else v3.x.
    cvss_v3_vector = models.CharField(max_length=200, blank=True)
    cvss_v3_score = models.FloatField(null=True, blank=True)
    cvss_v4_vector = models.CharField(max_length=300, blank=True)
    cvss_v4_score = models.FloatField(null=True, blank=True)
    cvss_score = models.GeneratedField(
        expression=Coalesce("cvss_v4_score", "cvss_v3_score"),
        output_field=models.FloatField(null=True),
        db_persist=True,
    )
    cwe_ids = models.JSONField(default=list, blank=True, help_text='["CWE-79", …]')
    vuln_ids = models.JSONField(default=list, blank=True, help_text="CVE and GHSA ids")
    epss_score = models.FloatField(null=True, blank=True, help_text="EPSS probability, 0-1")
    epss_percentile = models.FloatField(null=True, blank=True)
    is_kev = models.BooleanField(default=False, help_text="In CISA's Known Exploited list")
    has_fix = models.BooleanField(default=False, help_text="A fixed version or patch exists")
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    # The newest occurrence of this fingerprint in the team: the cross-scan findings list shows
    # one row per fingerprint (scans.findings.queries), kept by scans.findings.storage.findings_store.
    is_latest = models.BooleanField(default=True)
    # A synthetic finding of a demo scan (scans.findings.demo): never latest, fingerprinted apart
    # from real findings, so no list, count, alert or triage state of the team ever meets it.
    is_demo = models.BooleanField(default=False, db_default=False)
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
                    # The rule filter, and each group's rows in the grouped view.
                    ("finding_latest_rule_rank", ["team", "rule_id", "severity_rank"]),
                    # The grouped view's groups, worst first (scans.findings.groups).
                    ("finding_latest_rank_rule", ["team", "severity_rank", "rule_id"]),
                    (
                        "finding_latest_tool",
                        ["team", "tool", "severity_rank", "last_seen_at", "id"],
                    ),
                )
            ],
            # An asset's findings (the asset page), worst first.
            models.Index(
                fields=["asset", "severity_rank", "id"],
                name="finding_latest_asset",
                condition=models.Q(is_latest=True),
            ),
            # Sorting by CVSS score lists the findings that have one (SQLite has no NULLS LAST in
            # an index); partial, so findings without a score (secrets, open ports) cost nothing.
            models.Index(
                fields=["team", "cvss_score", "id"],
                name="finding_latest_cvss",
                condition=models.Q(is_latest=True, cvss_score__isnull=False),
            ),
            # The KEV filter: only known-exploited rows are in it, so it costs the others nothing.
            models.Index(
                fields=["team", "severity_rank", "last_seen_at", "id"],
                name="finding_latest_kev",
                condition=models.Q(is_latest=True, is_kev=True),
            ),
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
            cvss_v3_vector=self.cvss_v3_vector, cvss_v3_score=self.cvss_v3_score,
            cvss_v4_vector=self.cvss_v4_vector, cvss_v4_score=self.cvss_v4_score,
            cwe_ids=self.cwe_ids, vuln_ids=self.vuln_ids, epss_score=self.epss_score,
            epss_percentile=self.epss_percentile, is_kev=self.is_kev, has_fix=self.has_fix,
        )  # fmt: skip

    @property
    def cvss_severity(self) -> str:
        """The CVSS qualitative rating of `cvss_score` (None/Low/Medium/High/Critical), "" without
        a score."""
        return cvss_rating(self.cvss_score)

    @property
    def web_references(self) -> list[str]:
        """The references that can be links (http and https only: never javascript: or data:)."""
        return [r for r in self.references or [] if is_web_url(r)]

    @property
    def vuln_links(self) -> list[tuple[str, str]]:
        """(CVE or GHSA id, its advisory page) for each id."""
        return [(v, vuln_url(v)) for v in self.vuln_ids or []]

    @property
    def references_shown(self) -> list[tuple[str, bool]]:
        """(reference, whether it is an http(s) link) for each reference."""
        return [(str(r), is_web_url(r)) for r in self.references or []]

    @property
    def cwe_links(self) -> list[tuple[str, str]]:
        """(CWE id, its MITRE page) for each CWE id."""
        return [(c, cwe_url(c)) for c in self.cwe_ids or [] if cwe_url(c)]


class AcceptanceState(models.TextChoices):
    NONE = "", "—"
    PENDING = "pending", "Waiting for an owner's approval"
    APPROVED = "approved", "Accepted"


# The users a triage state names: unchecked (Django's collector sets them to NULL when a user
# is deleted) and indexed only where one is named (what that delete looks up). A new report's
# 20,000 states each cost four NULL entries in whole-column indexes (four of ten index entries)
# and four deferred checks of NULL keys at commit (~0.4 s for 20,000 states on the shared
# machine): scans.findings.storage writes them in bulk.
_USER_KEY_INDEXES = [
    models.Index(
        fields=[field],
        name=f"findingstate_{label}",
        condition=models.Q(**{f"{field}__isnull": False}),
    )
    for field, label in (
        ("updated_by", "updated_by"),
        ("assignee", "assignee_id"),
        ("accept_requested_by", "requested_by"),
        ("accept_approved_by", "approved_by"),
    )
]


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
    updated_by = _user_key()
    updated_at = models.DateTimeField(null=True, blank=True, help_text="Last triage")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Who owns fixing it (scans.findings.ownership); the due date is first_seen_at plus the
    # team's SLA days for the severity, computed, never stored (a changed SLA applies at once).
    assignee = _user_key()
    assigned_at = models.DateTimeField(null=True, blank=True)
    # Risk acceptance (scans.findings.acceptance): why, until when, and for critical and high
    # findings the owner who approved it. "pending": asked for, waiting for an owner (the status
    # stays open meanwhile); "approved": in force (status accepted) until `accepted_until`.
    # Database defaults: config.bulkwrite.finding_states_upsert inserts states in SQL.
    acceptance = models.CharField(
        max_length=8, blank=True, choices=AcceptanceState.choices, db_default=""
    )
    accept_reason = models.TextField(blank=True, db_default="")
    accepted_until = models.DateTimeField(null=True, blank=True)
    accept_requested_by = _user_key()
    accept_requested_at = models.DateTimeField(null=True, blank=True)
    accept_approved_by = _user_key()
    accept_approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "fingerprint"], name="findingstate_unique")
        ]
        indexes = [
            models.Index(fields=["team", "status", "severity"], name="findingstate_counts"),
            # "Assigned to me", and the acceptances that expire (scans.findings.acceptance).
            models.Index(
                fields=["team", "assignee"],
                name="findingstate_assignee",
                condition=models.Q(assignee__isnull=False),
            ),
            models.Index(
                fields=["accepted_until"],
                name="findingstate_accept_expiry",
                condition=models.Q(acceptance="approved"),
            ),
            models.Index(
                fields=["team", "acceptance"],
                name="findingstate_accept_pending",
                condition=models.Q(acceptance="pending"),
            ),
            *_USER_KEY_INDEXES,
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint[:12]} {self.status}"


class FindingEvent(models.Model):
    """One change of a fingerprint's status: who, when, from what, to what, and why."""

    class Kind(models.TextChoices):
        TRIAGE = "triage", "Triage"
        REOPENED = "reopened", "Seen again"
        AUTO_FIXED = "auto_fixed", "Not seen by the next scan"
        ASSIGNED = "assigned", "Assigned"
        ACCEPT_REQUESTED = "accept_asked", "Acceptance asked for"
        ACCEPT_APPROVED = "accept_ok", "Acceptance approved"
        ACCEPT_REJECTED = "accept_no", "Acceptance refused"
        EXPIRED = "expired", "Acceptance expired"

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


class OpenFindingsDay(models.Model):
    """The team's open findings at the end of a day (today's row is refreshed as scans finish and
    findings are triaged): the dashboard reads 31 small rows instead of counting 1M findings."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    counts = models.JSONField(default=dict, help_text="{severity: open findings}")
    total = models.PositiveIntegerField(default=0)
    top_assets = models.JSONField(default=list, help_text="[{item, score, counts}] worst first")
    groups = models.PositiveIntegerField(default=0, help_text="Rules / CVEs with open findings")
    top_groups = models.JSONField(
        default=list, help_text="[{rule_id, title, worst, findings, assets}] worst first"
    )
    overdue = models.PositiveIntegerField(default=0, help_text="Open findings past their SLA")
    due_soon = models.PositiveIntegerField(default=0, help_text="Open, due within 7 days")
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team", "day"]
        constraints = [
            models.UniqueConstraint(fields=["team", "day"], name="openfindingsday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.total} open"
