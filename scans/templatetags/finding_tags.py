"""`{% status_badge f %}`, `{% sla_badge f %}`, `{% vuln_chips f %}` and the findings lists' rows
(`{% finding_row f can_write %}`, `{% scan_finding_row f %}`): a finding's triage status, its
deadline's state, its CVSS/KEV/fix chips and its table row, wherever a finding is shown (the
findings list, a scan's findings, the grouped view's rows, the diff panel, a finding's page).

Written in Python rather than as included templates, and with a plain escape rather than
`format_html`: the findings list shows 50 findings a page, and the includes were most of that
page's time at a million findings (then `format_html`'s lazy-string checks were). Every value that
comes from a finding goes through `_e`; the markup around it is constant."""

from __future__ import annotations

import html
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from django import template
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.text import Truncator

register = template.Library()
_PK_MARK = 987654321
# A synthetic finding of a demo scan (scans.findings.demo).
DEMO_BADGE = (
    ' <span class="badge warn" title="Synthetic: found by a demo run, never counted">demo</span>'
)


def _e(value: Any) -> str:
    """HTML-escaped text of a value (what `{{ value }}` prints), safe strings as they are."""
    if isinstance(value, SafeData):
        return str(value)
    return html.escape("" if value is None else str(value))


def _day(value: Any) -> str:
    """`value|date:"Y-m-d"` for a datetime (in the current time zone) or a date."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).strftime(
            "%Y-%m-%d"
        )
    return value.strftime("%Y-%m-%d") if isinstance(value, date) else ""


def _status(f: Any) -> str:
    out = f'<span class="tstatus tstatus-{_e(f.status)}">{_e(f.get_status_display())}</span>'
    if getattr(f, "acceptance", "") == "pending":
        out += (
            ' <span class="tstatus tstatus-pending" title="Acceptance asked for; an owner must'
            ' approve it">approval pending</span>'
        )
    until = getattr(f, "accepted_until", None)
    if f.status == "accepted" and until:
        out += f' <span class="until">until {_day(until)}</span>'
    return out


def _sla(f: Any) -> str:
    state = getattr(f, "sla_state", "")
    if state not in ("overdue", "due_soon"):
        return ""
    css, label = ("danger", "Overdue") if state == "overdue" else ("warn", "Due soon")
    due = _day(getattr(f, "due_at", None))
    return f'<span class="badge {css} sla" title="Due {due}">{label}</span>'


def _chips(f: Any) -> str:
    out = ""
    if f.cvss_score is not None:
        version = "4.0" if f.cvss_v4_score is not None else "3.x"
        score = f"{float(f.cvss_score):.1f}"
        out += f'<span class="chip cvss" title="CVSS {version} base score">CVSS {score}</span>'
    if f.is_kev:
        out += (
            ' <span class="chip kev" title="In CISA&#x27;s Known Exploited Vulnerabilities'
            ' catalog">KEV</span>'
        )
    if f.has_fix:
        fixed = f" {_e(Truncator(f.fixed_version).chars(24))}" if f.fixed_version else ""
        out += f' <span class="chip fix" title="A fixed version or patch exists">fix{fixed}</span>'
    return out


@register.simple_tag
def status_badge(f: Any) -> SafeString:
    return mark_safe(_status(f))  # noqa: S308 every value escaped by _e


@register.simple_tag
def sla_badge(f: Any) -> SafeString:
    return mark_safe(_sla(f))  # noqa: S308 every value escaped by _e


@register.simple_tag
def vuln_chips(f: Any) -> SafeString:
    return mark_safe(_chips(f))  # noqa: S308 every value escaped by _e


@lru_cache(maxsize=16)
def _url_pattern(name: str, prefix: str) -> str:
    """`reverse(name)` for a one-pk route as a format string: one reverse per page, not per row
    (`prefix` keys the cache to the script prefix the URL was made under)."""
    return reverse(name, args=[_PK_MARK]).replace(str(_PK_MARK), "{}")


def _url(name: str, pk: int) -> str:
    return _e(_url_pattern(name, get_script_prefix()).format(int(pk)))


def _component(f: Any, *, always_version: bool) -> str:
    text = str(f.component)
    if always_version or f.version:
        text += f" {f.version}"
    return _e(text + (f" → {f.fixed_version}" if f.fixed_version else ""))


def _cells(f: Any, *, location: Any, with_component: bool) -> tuple[str, str, str]:
    """The severity, finding and location cells both lists start with."""
    severity = _e(f.severity)
    title = f'<a href="{_url("findings:detail", f.pk)}">{_e(f.title)}</a>'
    if f.is_demo:
        title += DEMO_BADGE
    if f.rule_id:
        title += f'<br><code class="muted">{_e(f.rule_id)}</code>'
    if with_component and f.component:
        title += f' <span class="muted">{_component(f, always_version=True)}</span>'
    return (
        f'<td data-label="Severity"><span class="sev sev-{severity}">{severity}</span></td>',
        f'<td data-label="Finding" class="title"><div>{title}<div class="chips">{_chips(f)}'
        "</div></div></td>",
        f'<td data-label="Location" class="loc"><code>{_e(Truncator(str(location)).chars(80))}'
        "</code></td>",
    )


def _owner_cell(f: Any) -> str:
    assignee = getattr(f, "assignee", None)
    who = (
        f'<span class="who">{_e(assignee.email)}</span>'
        if assignee
        else '<span class="muted">—</span>'
    )
    due_at = getattr(f, "due_at", None)
    if due_at:
        who += f'<div class="due">{_sla(f)} <span class="muted">{_day(due_at)}</span></div>'
    return f'<td data-label="Owner · due" class="owner">{who}</td>'


@register.simple_tag
def finding_row(f: Any, can_write: bool) -> SafeString:
    """A row of the cross-scan findings list (templates/scans/_findings_table.html)."""
    check = (
        f'<td class="check" data-label="Select"><input type="checkbox" name="ids" value="{int(f.pk)}"'
        f' aria-label="Select {_e(f.title)}"></td>'
        if can_write
        else ""
    )
    severity, title, location = _cells(f, location=f.location or f.item, with_component=True)
    return mark_safe(  # noqa: S308 every value escaped by _e
        f"<tr>{check}{severity}{title}{location}"
        f'<td data-label="Status">{_status(f)}</td>{_owner_cell(f)}'
        f'<td data-label="First seen">{_day(f.first_seen_at)}</td>'
        f'<td data-label="Scan"><a href="{_url("scans:detail", f.scan_id)}">#{int(f.scan_id)}</a></td></tr>'
    )


@register.simple_tag
def scan_finding_row(f: Any) -> SafeString:
    """A row of a scan's findings (templates/scans/_findings.html)."""
    severity, title, location = _cells(f, location=f.location, with_component=False)
    return mark_safe(  # noqa: S308 every value escaped by _e
        f"<tr>{severity}{title}{location}"
        f'<td data-label="Component">{_component(f, always_version=False)}</td>'
        f'<td data-label="Tool">{_e(f.tool)}</td>'
        f'<td data-label="Status">{_status(f)}</td>{_owner_cell(f)}</tr>'
    )
