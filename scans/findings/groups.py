"""Findings grouped by rule / CVE: one row per rule id (CVE-2024-1234 in 12 packages on 5 assets,
worst severity, fix available), worst first, over the same filters as the findings list.

A group's rows are the team's latest findings of that rule id that match the filters; groups are
ordered by their worst severity, then rule id, and paginated without a total (counting every
group of a million findings costs more than the page).

At scale (PostgreSQL) a page is found without aggregating every finding: for each severity,
worst first, a recursive query walks the distinct rule ids of that severity through the
`(team, severity_rank, rule_id) WHERE is_latest` index, one index probe per rule id (a "skip
scan"), keeping those with no finding of a higher severity, and stops as soon as the page is
full; then only the page's groups are aggregated, through the `(team, rule_id, severity_rank)`
index. Elsewhere (SQLite) one GROUP BY does the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import Team
from scans.engine.runtime import SEVERITIES
from scans.findings.ownership import sla_q
from scans.findings.queries import findings_for_team
from scans.models import Finding

GROUPS_PAGE = 25
GROUPS_MAX_PAGES = 400  # 10,000 groups: narrow the filters past that
GROUP_TRIAGE_MAX = 20_000  # findings changed by one group triage
RANK_SEVERITY = {rank: name for rank, name in enumerate(reversed(SEVERITIES))}


@dataclass
class FindingGroup:
    """One rule id's findings under the current filters."""

    rule_id: str
    title: str
    worst: str
    findings: int
    open: int
    packages: int
    assets: int
    fixable: int
    kev: int
    overdue: int
    tools: int
    tool: str
    cvss: float | None
    first_seen_at: datetime | None
    severities: dict[str, int] = field(default_factory=dict)

    @property
    def has_fix(self) -> bool:
        return self.fixable > 0


@dataclass
class GroupPage:
    groups: list[FindingGroup]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _aggregate(qs: QuerySet[Finding], *, sla_days: dict[str, int], now: datetime) -> Any:
    return qs.values("rule_id").annotate(
        worst=Max("severity_rank"),
        n=Count("id"),
        n_open=Count("id", filter=Q(status=Finding.Status.OPEN)),
        packages=Count("component", distinct=True, filter=~Q(component="")),
        assets=Count("item", distinct=True, filter=~Q(item="")),
        fixable=Count("id", filter=Q(has_fix=True)),
        kev=Count("id", filter=Q(is_kev=True)),
        overdue=Count("id", filter=sla_q(sla_days=sla_days, which="overdue", now=now)),
        tools=Count("tool", distinct=True),
        tool=Min("tool"),
        cvss=Max("cvss_score"),
        first_seen=Min("first_seen_at"),
        title=Min("title"),
        **{f"sev_{s}": Count("id", filter=Q(severity=s)) for s in SEVERITIES},
    )


def _group(row: dict[str, Any]) -> FindingGroup:
    return FindingGroup(
        rule_id=row["rule_id"], title=row["title"] or row["rule_id"],
        worst=RANK_SEVERITY.get(row["worst"], "info"), findings=row["n"], open=row["n_open"],
        packages=row["packages"], assets=row["assets"], fixable=row["fixable"], kev=row["kev"],
        overdue=row["overdue"], tools=row["tools"], tool=row["tool"] or "", cvss=row["cvss"],
        first_seen_at=row["first_seen"],
        severities={s: row[f"sev_{s}"] for s in SEVERITIES if row[f"sev_{s}"]},
    )  # fmt: skip


def _compiled(qs: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    sql, params = qs.query.sql_with_params()
    return sql, tuple(params)


def _band_keys(base: QuerySet[Finding], rank: int, higher: list[int], limit: int) -> list[str]:
    """Up to `limit` distinct rule ids, in order, with a finding of `rank` among `base` and none
    of the `higher` ranks."""
    here = base.filter(severity_rank=rank)
    first_sql, first_params = _compiled(here.order_by("rule_id").values("rule_id")[:1])
    next_sql, next_params = _compiled(
        here.filter(rule_id__gt=RawSQL("band.rule_id", ()))
        .order_by("rule_id")
        .values("rule_id")[:1]
    )
    worse = base.filter(rule_id=RawSQL("band.rule_id", ()), severity_rank__in=higher or [-1])
    higher_sql, higher_params = _compiled(worse.values("id")[:1])
    # The parts are the ORM's compiled SQL: every value in them stays a query parameter.
    sql = (
        f"WITH RECURSIVE band(rule_id) AS (({first_sql}) UNION ALL "  # noqa: S608  ORM-compiled, values are parameters
        f"SELECT ({next_sql}) FROM band WHERE band.rule_id IS NOT NULL) "
        f"SELECT band.rule_id FROM band WHERE band.rule_id IS NOT NULL "
        f"AND NOT EXISTS ({higher_sql}) LIMIT %s"
    )
    with connections[base.db].cursor() as cursor:
        cursor.execute(sql, (*first_params, *next_params, *higher_params, limit))
        return [row[0] for row in cursor.fetchall()]


def _page_keys(base: QuerySet[Finding], ranks: list[int], *, offset: int, size: int) -> list[str]:
    """The rule ids of groups offset … offset+size (worst severity first, then rule id), among
    the findings of `base` whose severity rank is in `ranks`."""
    skip, keys = offset, list[str]()
    ranks = sorted(ranks, reverse=True)
    for index, rank in enumerate(ranks):
        need = size - len(keys)
        if need <= 0:
            break
        band = _band_keys(base, rank, ranks[:index], skip + need)
        if len(band) <= skip:
            skip -= len(band)
            continue
        keys += band[skip:]
        skip = 0
    return keys


def finding_groups(
    team: Team, *, user: Any = None, page: int = 1, size: int = GROUPS_PAGE, **filters: Any
) -> GroupPage:
    """One page of the team's findings grouped by rule id, worst first, under `filters` (those of
    scans.findings.queries.FindingFilterForm; `sort` does not apply)."""
    page = max(1, min(int(page or 1), GROUPS_MAX_PAGES))
    filters.pop("sort", None)
    base = findings_for_team(team, user=user, **filters).order_by()
    now = timezone.now()
    sla = team.sla_days
    offset = (page - 1) * size
    if connections[base.db].vendor == "postgresql":
        # The walk takes the severity filter as its bands: a severity filter on top of each
        # band's own rank made the planner misjudge how many rows a probe reads.
        severities = filters.pop("severity", None) or list(SEVERITIES)
        ranks = [rank for rank, name in RANK_SEVERITY.items() if name in severities]
        walk = findings_for_team(team, user=user, **filters).order_by()
        keys = _page_keys(walk, ranks, offset=offset, size=size + 1)
        rows = list(_aggregate(base.filter(rule_id__in=keys), sla_days=sla, now=now))
        order = {key: index for index, key in enumerate(keys)}
        rows.sort(key=lambda row: order[row["rule_id"]])
    else:
        ordered = _aggregate(base, sla_days=sla, now=now).order_by("-worst", "rule_id")
        rows = list(ordered[offset : offset + size + 1])
    groups = [_group(row) for row in rows[:size]]
    return GroupPage(groups=groups, number=page, has_next=len(rows) > size)


def group_fingerprints(
    team: Team, *, rule_ids: list[str], user: Any = None, **filters: Any
) -> list[str]:
    """The fingerprints of these groups' findings under `filters` (what a group triage, accept
    or assign changes). Raises ValueError past GROUP_TRIAGE_MAX findings."""
    filters.pop("sort", None)
    filters.pop("rule_id", None)
    qs = findings_for_team(team, user=user, **filters).order_by().filter(rule_id__in=rule_ids)
    fps = list(qs.values_list("fingerprint", flat=True)[: GROUP_TRIAGE_MAX + 1])
    if len(fps) > GROUP_TRIAGE_MAX:
        raise ValueError(
            f"These groups hold more than {GROUP_TRIAGE_MAX:,} findings; narrow the filters."
        )
    return fps
