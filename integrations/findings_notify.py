"""Telling people about findings that changed hands or reopened (scans.signals):

- `findings_assigned`: the assignee gets an e-mail (through `EMAIL_URL`, like the e-mail
  integration) with the findings and a link;
- `acceptance_requested`: the team's owners get an e-mail asking them to approve;
- `acceptances_expired`: the team's integrations with an "accepted risk expired" rule get a
  message (Slack, Discord, webhook, e-mail), and the people who asked for, approved or own the
  reopened findings get an e-mail.

The receivers only queue tasks: the signals are sent from web requests (triage) and from the
expiry job, and nothing is sent inside either. Personal e-mails are retried a few times when the
mail server answers 4xx or cannot be reached.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from config.bulkwrite import chunks
from integrations.delivery import delivery_create
from integrations.kinds.email import render as email_render
from integrations.messages import Message, MessageFinding, counts_text, public_url
from integrations.models import DeliveryEvent, NotificationRule, RuleEvent
from scans.engine.runtime import SEVERITIES, SEVERITY_RANK
from scans.models import Finding, FindingState

log = structlog.get_logger(__name__)

MAIL_RETRY_DELAYS_S = (30, 300, 1800)
SHOWN = 25


def _enqueue(func: str, *args: Any) -> None:
    from django_q.tasks import async_task

    async_task(f"integrations.tasks.{func}", *args, group="finding-notices")


def on_findings_assigned(
    sender: Any = None, *, team_id: int, fingerprints: list[str], assignee_id: int,
    user_id: int | None = None, **kwargs: Any,
) -> None:  # fmt: skip
    _safely(_enqueue, "assignment_notify", team_id, list(fingerprints)[:5000], assignee_id, user_id)


def on_acceptance_requested(
    sender: Any = None, *, team_id: int, fingerprints: list[str], user_id: int | None = None,
    **kwargs: Any,
) -> None:  # fmt: skip
    _safely(_enqueue, "acceptance_request_notify", team_id, list(fingerprints)[:5000], user_id)


def on_acceptances_expired(
    sender: Any = None, *, team_id: int, fingerprints: list[str], user_ids: list[int] | None = None,
    **kwargs: Any,
) -> None:  # fmt: skip
    _safely(
        _enqueue, "acceptance_expiry_notify", team_id, list(fingerprints)[:20000],
        sorted(set(user_ids or [])),
    )  # fmt: skip


def _safely(func: Any, *args: Any) -> None:
    # A notice that cannot be queued must never undo the triage that caused it.
    try:
        func(*args)
    except Exception:
        log.exception("finding_notice.enqueue_failed")


def _latest_findings(team_id: int, fingerprints: list[str]) -> list[Finding]:
    rows: list[Finding] = []
    for chunk in chunks(sorted(set(fingerprints))):
        rows += list(Finding.objects.filter(team_id=team_id, fingerprint__in=chunk, is_latest=True))
    rows.sort(key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.title, f.pk))
    return rows


def findings_message(
    *, event: str, title: str, summary: str, team: Team, findings: list[Finding], link: str
) -> Message:
    """A message about some findings of a team (not of one scan): counts, the worst ones, a link."""
    counts = {s: 0 for s in SEVERITIES}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    shown = [
        MessageFinding(
            severity=f.severity, title=f.title[:300], tool=f.tool, rule_id=f.rule_id[:200],
            location=f.location[:300], component=f.component[:200], version=f.version[:100],
            fixed_version=f.fixed_version[:100], fingerprint=f.fingerprint,
        )
        for f in findings[:SHOWN]
    ]  # fmt: skip
    return Message(
        event=event, title=title, summary=summary, team=team.name, scan_url=link,
        counts={s: n for s, n in counts.items() if n}, findings=shown,
        findings_total=len(findings),
    )  # fmt: skip


def _link(findings: list[Finding], query: str) -> str:
    if len(findings) == 1:
        return public_url(reverse("findings:detail", args=[findings[0].pk]))
    return public_url(f"{reverse('findings:list')}?{query}")


def _mailed(to: list[str], team: Team, findings: list[Finding], query: str, **text: str) -> str:
    """E-mail `to` a message (`text`: event, title, summary) about `findings` that links to them:
    one finding's page, or the findings list under `query`."""
    message = findings_message(team=team, findings=findings, link=_link(findings, query), **text)
    return mail_send(to, message.to_dict(), 0)


def _email_of(user_id: int | None, fallback: str) -> str:
    """Who did it, for a message's summary (`fallback` when the account is gone)."""
    by = User.objects.filter(pk=user_id).first() if user_id else None
    return by.email if by else fallback


def assignment_notify(
    team_id: int, fingerprints: list[str], assignee_id: int, user_id: int | None
) -> str:
    team = Team.objects.filter(pk=team_id).first()
    assignee = User.objects.filter(pk=assignee_id, is_active=True).first()
    if team is None or assignee is None:
        return "team or assignee gone"
    findings = _latest_findings(team_id, fingerprints)
    if not findings:
        return "no findings"
    return _mailed(
        [assignee.email], team, findings, "assignee=me&status=open", event="finding_assigned",
        title=f"{len(findings)} finding(s) assigned to you in {team.name}",
        summary=f"{_email_of(user_id, 'Someone')} assigned you {len(findings)} finding(s): "
        f"{counts_text(_counts(findings))}.",
    )  # fmt: skip


def acceptance_request_notify(team_id: int, fingerprints: list[str], user_id: int | None) -> str:
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        return "team gone"
    owners = [
        email
        for member_id, email in Membership.objects.filter(
            team=team, role=Role.OWNER, user__is_active=True
        ).values_list("user_id", "user__email")
        if member_id != user_id  # who asked does not approve their own request
    ]
    findings = _latest_findings(team_id, fingerprints)
    if not owners or not findings:
        return "nobody to ask"
    return _mailed(
        owners, team, findings, "status=open", event="acceptance_requested",
        title=f"Approve accepting {len(findings)} risk(s) in {team.name}?",
        summary=f"{_email_of(user_id, 'An analyst')} asks to accept the risk of "
        f"{counts_text(_counts(findings))} finding(s). Approve or refuse on each finding's page.",
    )  # fmt: skip


def acceptance_expiry_notify(
    team_id: int, fingerprints: list[str], user_ids: list[int] | None = None
) -> str:
    """The team's "accepted risk expired" rules get a message each; the people who accepted,
    approved or own the reopened findings get an e-mail."""
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        return "team gone"
    findings = _latest_findings(team_id, fingerprints)
    if not findings:
        return "no findings"
    message = findings_message(
        event=DeliveryEvent.ACCEPTANCE_EXPIRED,
        title=f"{len(findings)} accepted risk(s) expired in {team.name}: reopened",
        summary=f"The acceptance of {counts_text(_counts(findings))} finding(s) ended; they are "
        "open again and count against the SLA.",
        team=team, findings=findings, link=_link(findings, "status=open"),
    )  # fmt: skip
    rules = NotificationRule.objects.filter(
        team=team, is_enabled=True, integration__is_enabled=True,
        event=RuleEvent.ACCEPTANCE_EXPIRED,
    ).select_related("integration")  # fmt: skip
    sent = 0
    for rule in rules:
        delivery_create(
            integration=rule.integration, message=message, event=DeliveryEvent.ACCEPTANCE_EXPIRED
        )
        sent += 1
    owners = FindingState.objects.filter(
        team=team, fingerprint__in=[f.fingerprint for f in findings[:2000]]
    ).values("assignee")
    people = set(
        User.objects.filter(is_active=True, memberships__team=team)
        .filter(Q(pk__in=owners) | Q(pk__in=list(user_ids or [])))
        .values_list("email", flat=True)
    )
    if people:
        mail_send(sorted(people), message.to_dict(), 0)
    return f"{sent} message(s) queued, {len(people)} person(s) e-mailed"


def _counts(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    return counts


def mail_send(recipients: list[str], payload: dict[str, Any], attempt: int) -> str:
    """E-mail a message to people (the task body): through EMAIL_URL, retried after
    MAIL_RETRY_DELAYS_S when the server answers 4xx or cannot be reached."""
    import smtplib

    content = email_render(Message.from_dict(payload))
    try:
        EmailMessage(
            subject=content["subject"], body=content["body"],
            from_email=settings.DEFAULT_FROM_EMAIL, to=recipients,
            connection=get_connection(timeout=settings.DELIVERY_TIMEOUT_S),
        ).send(fail_silently=False)  # fmt: skip
    except smtplib.SMTPResponseException as exc:
        if not 400 <= exc.smtp_code < 500:
            log.warning("finding_notice.refused", code=exc.smtp_code, recipients=len(recipients))
            return f"refused: SMTP {exc.smtp_code}"
        return _retry(recipients, payload, attempt, f"SMTP {exc.smtp_code}")
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return _retry(recipients, payload, attempt, type(exc).__name__)
    log.info("finding_notice.sent", notice=payload.get("event"), recipients=len(recipients))
    return f"sent to {len(recipients)}"


def _retry(recipients: list[str], payload: dict[str, Any], attempt: int, error: str) -> str:
    from django_q.models import Schedule

    if attempt >= len(MAIL_RETRY_DELAYS_S):
        log.warning("finding_notice.failed", error=error, attempts=attempt + 1)
        return f"failed after {attempt + 1} attempts: {error}"
    at = timezone.now() + timedelta(seconds=MAIL_RETRY_DELAYS_S[attempt])
    Schedule.objects.create(
        name=f"finding-notice-{int(at.timestamp())}-{attempt}"[:100],
        func="integrations.tasks.finding_notice_mail",
        args=repr((recipients, payload, attempt + 1)),
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=at,
    )
    return f"retrying in {MAIL_RETRY_DELAYS_S[attempt]} s: {error}"
