"""E-mail through Django's configured mail backend (`EMAIL_URL`): a plain-text message with the
summary, counts by severity, the worst findings and the link. SMTP answers 4xx and connection
problems are retried; 5xx answers (unknown mailbox, refused sender) are not."""

from __future__ import annotations

import smtplib
import time
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from integrations.kinds.text import clip
from integrations.messages import Message, counts_text
from integrations.outbound import Attempt
from scans.models import Report

FINDINGS_SHOWN = 25


def render(message: Message) -> dict[str, str]:
    """Subject and body. The subject is one line (header injection is impossible anyway)."""
    lines = [message.summary, "", f"Findings: {counts_text(message.counts)}"]
    if message.scan_status:
        lines.append(f"Status: {message.scan_status}")
    if message.findings:
        lines += ["", "Worst findings:"]
        for f in message.findings[:FINDINGS_SHOWN]:
            new = " (new)" if f.is_new else ""
            where = f" — {f.location}" if f.location else ""
            rule = f" [{f.rule_id}]" if f.rule_id else ""
            lines.append(f"  [{f.severity.upper()}] {f.title}{new}{rule}{where}")
        if message.more_findings:
            lines.append(f"  … and {message.more_findings} more")
    if message.scan_url:
        lines += ["", message.scan_url]
    if message.report_url:
        lines += ["", f"PDF report (attached): {message.report_url}"]
    lines += ["", f"— Outpost, team {message.team}"]
    subject = " ".join(f"[Outpost] {message.title}".split())
    return {"subject": clip(subject, 200), "body": "\n".join(lines)}


def _report_pdf(message: Message) -> tuple[str, bytes, str] | None:
    """The report node's PDF for the attachment (None when there is none, or it is gone)."""
    if not message.report_id:
        return None
    report = Report.objects.filter(pk=message.report_id, status=Report.Status.READY).first()
    if report is None or not report.is_stored:
        return None
    with report.open() as handle:
        data = handle.read()
    return f"outpost-scan-{report.scan_id}-report.pdf", data, "application/pdf"


def deliver(
    *, integration: Any, message: Message, delivery_id: int, secrets: dict[str, Any]
) -> Attempt:
    recipients = list(integration.recipients)
    if not recipients:
        return Attempt(ok=False, error="no recipients")
    content = render(message)
    started = time.monotonic()
    try:
        connection = get_connection(timeout=settings.DELIVERY_TIMEOUT_S)
        email = EmailMessage(
            subject=content["subject"],
            body=content["body"],
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
            headers={"X-Outpost-Delivery": str(delivery_id)},
            connection=connection,
        )
        attachment = _report_pdf(message)
        if attachment is not None:
            email.attach(*attachment)
        sent = email.send(fail_silently=False)
    except smtplib.SMTPResponseException as exc:
        answer = exc.smtp_error
        text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
        return Attempt(
            ok=False, retryable=400 <= exc.smtp_code < 500, response_code=exc.smtp_code,
            error=f"SMTP {exc.smtp_code}: {text[:200]}", duration_ms=_ms(started),
        )  # fmt: skip
    except smtplib.SMTPRecipientsRefused:
        return Attempt(ok=False, error="every recipient was refused", duration_ms=_ms(started))
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return Attempt(
            ok=False, retryable=True, error=f"{type(exc).__name__}: {exc}"[:500],
            duration_ms=_ms(started),
        )  # fmt: skip
    if not sent:
        return Attempt(ok=False, retryable=True, error="the mail backend sent nothing")
    return Attempt(ok=True, duration_ms=_ms(started))


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
