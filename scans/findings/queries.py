"""Reading findings across scans: filters, sorts and a pagination that stays fast at a million rows.

Across scans the list shows one row per fingerprint, its latest occurrence (`Finding.is_latest`);
filtering by scan shows that scan's rows. Each sort is backed by a partial index on
(team, [filter column,] sort columns, id) WHERE is_latest (scans.models.Finding.Meta), and
counting stops at COUNT_CAP rows: an exact COUNT(*) over a million rows costs more than the page.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django import forms
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property

from accounts.models import Team
from config.filtering import filtered_by
from config.formfields import UtcDateTimeField
from scans.engine.runtime import SEVERITY_RANK
from scans.engine.vulns import cwe_id
from scans.findings.diff import scan_previous
from scans.findings.ownership import sla_q
from scans.models import Finding, FindingState, Scan, Severity

COUNT_CAP = 10_000
# The planner's row estimate is trusted to skip the capped count only this far past the cap.
ESTIMATE_TRUST = 4
# sort key -> ORDER BY; every one ends with id so pages never shuffle.
FINDING_SORTS: dict[str, tuple[str, ...]] = {
    "-severity": ("-severity_rank", "-last_seen_at", "-id"),
    "severity": ("severity_rank", "last_seen_at", "id"),
    "-last_seen": ("-last_seen_at", "-id"),
    "last_seen": ("last_seen_at", "id"),
    "-first_seen": ("-first_seen_at", "-id"),
    "first_seen": ("first_seen_at", "id"),
    # Only findings with a score are listed by score (the index holds only them).
    "-cvss": ("-cvss_score", "-id"),
}
SORT_LABELS = {
    "-severity": "Worst first",
    "severity": "Least severe first",
    "-last_seen": "Last seen, newest",
    "last_seen": "Last seen, oldest",
    "-first_seen": "First seen, newest",
    "first_seen": "First seen, oldest",
    "-cvss": "CVSS score, highest (scored findings)",
}
YES_NO = [("", "Any"), ("true", "Yes"), ("false", "No")]
DUE_CHOICES = [("", "Any"), ("overdue", "Overdue"), ("due_soon", "Due within 7 days")]
DIFF_CHOICES = [
    ("new", "New"), ("fixed", "Fixed"), ("still_open", "Still open"),
    ("triaged", "Accepted or false positive"),
]  # fmt: skip


def _yes_no(value: Any) -> bool | None:
    return {"true": True, "false": False}.get(str(value).lower())


class MultiValueField(forms.MultipleChoiceField):
    """Accepts `?severity=high&severity=critical` and `?severity=high,critical`."""

    def to_python(self, value: Any) -> list[str]:
        values = super().to_python(value)
        return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


class FindingFilterForm(forms.Form):
    """The findings list's query parameters, shared by the page and the API."""

    severity = MultiValueField(choices=Severity.choices, required=False)
    status = MultiValueField(choices=Finding.Status.choices, required=False)
    tool = forms.CharField(required=False, max_length=40)
    rule_id = forms.CharField(required=False, max_length=200)
    asset = forms.CharField(
        required=False, max_length=1000, help_text="The item a finding is about (host, URL, image)"
    )
    target = forms.IntegerField(
        required=False, min_value=1, help_text="Findings of scans of this target"
    )
    scan = forms.IntegerField(required=False, min_value=1)
    q = forms.CharField(
        required=False, max_length=200, help_text="Text in title, rule, component or location"
    )
    first_seen_after = UtcDateTimeField(required=False)
    first_seen_before = UtcDateTimeField(required=False)
    cvss_min = forms.FloatField(
        required=False, min_value=0, max_value=10, help_text="CVSS base score at least this"
    )
    has_fix = forms.TypedChoiceField(
        choices=YES_NO, coerce=_yes_no, empty_value=None, required=False
    )
    kev = forms.TypedChoiceField(
        choices=YES_NO, coerce=_yes_no, empty_value=None, required=False,
        help_text="In CISA's Known Exploited Vulnerabilities",
    )  # fmt: skip
    cwe = forms.CharField(required=False, max_length=20, help_text="CWE-79 or 79")
    assignee = forms.CharField(
        required=False, max_length=20, help_text="A member's user id, `me` or `none`"
    )
    due = forms.ChoiceField(choices=DUE_CHOICES, required=False)
    diff = forms.ChoiceField(
        choices=DIFF_CHOICES, required=False,
        help_text="With `scan`: findings new, fixed or still open against the previous scan",
    )  # fmt: skip
    sort = forms.ChoiceField(choices=list(SORT_LABELS.items()), required=False)

    def clean_cwe(self) -> str:
        value = self.cleaned_data.get("cwe") or ""
        if value and not cwe_id(value):
            raise forms.ValidationError("A CWE id such as CWE-79.")
        return cwe_id(value) if value else ""

    def clean_assignee(self) -> str:
        value = (self.cleaned_data.get("assignee") or "").strip().lower()
        if value and value not in ("me", "none") and not value.isdigit():
            raise forms.ValidationError("A user id, `me` or `none`.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("diff") and not data.get("scan"):
            self.add_error("diff", "Comparing needs a scan (`scan`).")
        return data

    def filters(self) -> dict[str, Any]:
        """Cleaned values without the empty ones (call after is_valid())."""
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", [])}


# What a findings table row never shows: the long texts and JSON lists, read (and decoded) only
# on a finding's own page, the API and exports. The list pages defer them.
ROW_DEFERRED = (
    "description", "remediation", "evidence", "references", "tags", "cwe_ids", "vuln_ids",
    "cvss_v3_vector", "cvss_v4_vector",
)  # fmt: skip


# A list filter's name -> the field lookup its value must match (the dates are bounds).
FINDING_FILTERS = {
    "tool": "tool", "rule_id": "rule_id", "asset": "item",
    "first_seen_after": "first_seen_at__gte", "first_seen_before": "first_seen_at__lt",
}  # fmt: skip


def findings_for_team(team: Team, *, user: Any = None, **filters: Any) -> QuerySet[Finding]:
    """The team's findings, filtered and sorted (keys as in FindingFilterForm; `user` is who
    `assignee=me` means). Without `scan`, one row per fingerprint: its latest occurrence."""
    base = Finding.objects.filter(team=team)
    qs = (
        base.filter(scan_id=filters["scan"]) if filters.get("scan") else base.filter(is_latest=True)
    )
    if filters.get("diff") and filters.get("scan"):
        qs = _diff_filter(team, qs, filters["scan"], filters["diff"])
    if filters.get("severity"):
        # As ranks (the form allows only known severities): the list's indexes hold the rank.
        ranks = sorted({SEVERITY_RANK[s] for s in filters["severity"]})
        qs = (
            qs.filter(severity_rank=ranks[0])
            if len(ranks) == 1
            else qs.filter(severity_rank__in=ranks)
        )
    if filters.get("status"):
        statuses = filters["status"]
        qs = qs.filter(status=statuses[0]) if len(statuses) == 1 else qs.filter(status__in=statuses)
    qs = filtered_by(qs, filters, FINDING_FILTERS)
    if filters.get("target"):
        qs = qs.filter(
            scan__in=Scan.objects.filter(team=team, targets__pk=filters["target"]).values("pk")
        )
    if filters.get("cvss_min") is not None:
        qs = qs.filter(cvss_score__gte=filters["cvss_min"])
    if filters.get("has_fix") is not None:
        qs = qs.filter(has_fix=filters["has_fix"])
    if filters.get("kev") is not None:
        qs = qs.filter(is_kev=filters["kev"])
    if filters.get("cwe"):
        # The JSON text holds `"CWE-79"` quoted: no prefix of another id matches.
        qs = qs.filter(cwe_ids__icontains=f'"{filters["cwe"]}"')
    if filters.get("assignee"):
        qs = _assignee_filter(team, qs, filters["assignee"], user)
    if filters.get("due"):
        qs = qs.filter(sla_q(sla_days=team.sla_days, which=filters["due"], now=timezone.now()))
    if filters.get("q"):
        text = filters["q"]
        qs = qs.filter(
            Q(title__icontains=text)
            | Q(rule_id__icontains=text)
            | Q(component__icontains=text)
            | Q(location__icontains=text)
        )
    sort = filters.get("sort") or "-severity"
    if sort == "-cvss":
        qs = qs.filter(cvss_score__isnull=False)
    order = FINDING_SORTS.get(sort, FINDING_SORTS["-severity"])
    # The scan's name is shown beside each row; its graph and plan JSON are not needed.
    return (
        qs.select_related("scan")
        .defer("scan__graph", "scan__plan", "scan__target_snapshot", "scan__error")
        .order_by(*order)
    )


def _assignee_filter(team: Team, qs: QuerySet[Finding], value: str, user: Any) -> Any:
    assigned = FindingState.objects.filter(team=team, assignee__isnull=False)
    if value == "none":
        return qs.exclude(fingerprint__in=assigned.values("fingerprint"))
    user_id = getattr(user, "pk", None) if value == "me" else int(value)
    mine = FindingState.objects.filter(team=team, assignee_id=user_id)
    return qs.filter(fingerprint__in=mine.values("fingerprint"))


def _diff_filter(team: Team, qs: QuerySet[Finding], scan_id: int, which: str) -> Any:
    """The scan's findings new, still open (open and seen by the previous scan too) or fixed
    (the previous scan's findings this one did not report) against the previous completed scan
    of the same workflow and targets (scans.findings.diff)."""
    scan = Scan.objects.filter(team=team, pk=scan_id).first()
    previous = scan_previous(scan) if scan is not None else None
    if scan is None:
        return qs.none()
    if which == "fixed":
        if previous is None:
            return qs.none()
        return Finding.objects.filter(team=team, scan=previous).exclude(
            fingerprint__in=Finding.objects.filter(team=team, scan=scan).values("fingerprint")
        )
    before = (
        Finding.objects.filter(team=team, scan=previous).values("fingerprint")
        if previous is not None
        else Finding.objects.none().values("fingerprint")
    )
    if which == "new":
        new = qs.exclude(fingerprint__in=before) if previous is not None else qs
        return new.filter(status=Finding.Status.OPEN)
    if which == "triaged":
        return qs.filter(status__in=[Finding.Status.ACCEPTED, Finding.Status.FALSE_POSITIVE])
    return qs.filter(fingerprint__in=before, status=Finding.Status.OPEN)


def planner_rows(qs: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows a query returns (from its statistics, no scan), or None
    on other databases."""
    if connections[qs.db].vendor != "postgresql":
        return None
    try:
        plan = json.loads(qs.explain(format="json"))
        return int(plan[0]["Plan"]["Plan Rows"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


# The queries (SQL and parameters) the planner judged far past the cap, and until when that
# verdict is reused without asking again: the estimate comes from statistics that autovacuum
# refreshes only every so often, so a minute adds little staleness and saves every page of a
# large list one EXPLAIN round trip. Per process; forgotten all at once when it grows past
# PAST_CAP_KEPT.
PAST_CAP_SECONDS = 60.0
PAST_CAP_KEPT = 512
_PAST_CAP: dict[tuple[int, str, tuple[Any, ...]], float] = {}


def _past_cap_known(qs: QuerySet[Any], cap: int) -> tuple[int, str, tuple[Any, ...]] | None:
    if connections[qs.db].vendor != "postgresql":
        return None
    try:
        sql, params = qs.query.sql_with_params()
        key = (cap, sql, tuple(params))
        hash(key)
    except (EmptyResultSet, TypeError):  # nothing to ask, or a parameter no dict can key
        return None
    return key


class CappedPaginator(Paginator):
    """A Paginator whose count stops at COUNT_CAP: pages past the cap are refused (narrow the
    filters), which also keeps OFFSET bounded."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        qs = self.object_list.order_by()  # type: ignore[attr-defined,union-attr]
        known = _past_cap_known(qs, self.cap)
        if known is not None and time.monotonic() < _PAST_CAP.get(known, 0.0):
            return self.cap + 1
        estimate = planner_rows(qs)
        if estimate is not None and estimate > ESTIMATE_TRUST * self.cap:
            # Far past the cap by the planner's statistics: counting 10,001 rows would only
            # confirm it (tens of ms at a million rows).
            if known is not None:
                if len(_PAST_CAP) >= PAST_CAP_KEPT:
                    _PAST_CAP.clear()
                _PAST_CAP[known] = time.monotonic() + PAST_CAP_SECONDS
            return self.cap + 1
        return int(qs.values("pk")[: self.cap + 1].count())

    @property
    def is_exact(self) -> bool:
        return self.count <= self.cap

    @cached_property
    def num_pages(self) -> int:  # type: ignore[override]
        hits = min(self.count, self.cap)
        if hits == 0 and not self.allow_empty_first_page:
            return 0
        return max(1, -(-hits // self.per_page))


def scan_open_counts(scan: Scan) -> dict[str, int]:
    """The scan's open findings by severity (accepted and false-positive ones are not open), read
    through the (scan, severity_rank, id) index."""
    rows = (
        Finding.objects.filter(scan=scan, status=Finding.Status.OPEN)
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    found = dict(rows)
    return {s: int(found.get(s, 0)) for s in Severity.values}
