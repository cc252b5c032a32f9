"""Integrations and notification rules: create, change, delete, send a test. The pages, the API
and the admin all call these, so every change is validated the same way and audited — and no
audit entry, log line or error message ever carries a webhook URL or a signing secret."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.audit import audit_record, audited_save
from accounts.models import Team, User
from config.names import CONTROL_CHARACTERS, name_clean
from config.unset import UNSET
from integrations.crypto import SecretUnreadable, secrets_encrypt, url_mask
from integrations.delivery import delivery_create
from integrations.kinds import kind_allowed_hosts
from integrations.messages import message_for_test
from integrations.models import (
    URL_KINDS,
    Delivery,
    DeliveryEvent,
    Integration,
    IntegrationKind,
    NotificationRule,
    RuleEvent,
)
from integrations.outbound import url_problem
from scans.engine.runtime import SEVERITIES

NAME_MAX = 100
SECRET_MIN = 16
SECRET_MAX = 200
MAX_RECIPIENTS = 20


def integrations_for(team: Team, *, kind: str | None = None) -> QuerySet[Integration]:
    qs = Integration.objects.filter(team=team).select_related("created_by")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("name", "pk")


def deliveries_for(integration: Integration) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(integration=integration)
        .select_related("scan")
        .order_by("-created_at", "-pk")
    )


# --- validation ------------------------------------------------------------------------------


def _clean_name(name: Any) -> str:
    limits = f"At most {NAME_MAX} characters, no control characters."
    return name_clean(
        name, max_length=NAME_MAX, refused=lambda message: ValidationError({"name": [message]}),
        missing="Give the integration a name.", too_long=limits, control=limits,
    )  # fmt: skip


def _clean_url(url: Any, kind: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValidationError({"webhook_url": ["The webhook URL is required."]})
    url = url.strip()
    problem = url_problem(url, allowed_hosts=kind_allowed_hosts(kind))
    if problem:
        raise ValidationError({"webhook_url": [f"The webhook URL {problem}."]})
    return url


def _clean_secret(secret: Any) -> str:
    if not isinstance(secret, str) or not (SECRET_MIN <= len(secret) <= SECRET_MAX):
        raise ValidationError(
            {
                "signing_secret": [
                    f"The signing secret needs {SECRET_MIN} to {SECRET_MAX} characters."
                ]
            }
        )
    if CONTROL_CHARACTERS.search(secret):
        raise ValidationError({"signing_secret": ["No control characters."]})
    return secret


def _clean_recipients(recipients: Any) -> list[str]:
    if isinstance(recipients, str):
        recipients = re.split(r"[,;\s]+", recipients)
    if not isinstance(recipients, list | tuple):
        raise ValidationError({"recipients": ["A list of e-mail addresses."]})
    cleaned: list[str] = []
    for raw in recipients:
        address = str(raw).strip().lower()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                {"recipients": [f"{address[:100]} is not an e-mail address."]}
            ) from None
        if address not in cleaned:
            cleaned.append(address)
    if not cleaned:
        raise ValidationError({"recipients": ["At least one recipient."]})
    if len(cleaned) > MAX_RECIPIENTS:
        raise ValidationError({"recipients": [f"At most {MAX_RECIPIENTS} recipients."]})
    return cleaned


def _store_secrets(integration: Integration, secrets: dict[str, str]) -> None:
    integration.secrets_encrypted = secrets_encrypt(secrets)
    integration.destination_hint = url_mask(secrets["url"])


# --- integrations ----------------------------------------------------------------------------


def integration_create(
    *,
    team: Team,
    user: User | None,
    kind: str,
    name: str,
    webhook_url: str = "",
    signing_secret: str = "",
    recipients: Any = None,
    is_enabled: bool = True,
) -> Integration:
    """Add a Slack, Discord, webhook or e-mail integration to the team. The URL and the signing
    secret are validated, then stored only encrypted."""
    if kind not in IntegrationKind.values:
        raise ValidationError({"kind": [f"One of {', '.join(IntegrationKind.values)}."]})
    integration = Integration(
        team=team, kind=kind, name=_clean_name(name), is_enabled=bool(is_enabled), created_by=user
    )
    if kind in URL_KINDS:
        secrets = {"url": _clean_url(webhook_url, kind)}
        if kind == IntegrationKind.WEBHOOK:
            secrets["signing_secret"] = _clean_secret(signing_secret)
        _store_secrets(integration, secrets)
    else:
        integration.config = {"recipients": _clean_recipients(recipients)}
    audited_save(
        integration, "integration.created", user=user, team=team,
        detail=lambda: {"integration_id": integration.pk, "kind": kind, "name": integration.name},
    )  # fmt: skip
    return integration


def integration_update(
    *,
    integration: Integration,
    user: User | None,
    name: Any = UNSET,
    webhook_url: Any = UNSET,
    signing_secret: Any = UNSET,
    recipients: Any = UNSET,
    is_enabled: Any = UNSET,
) -> Integration:
    """Change what is given; a secret left out (or empty from a form) keeps its stored value."""
    changed: list[str] = []
    if name is not UNSET:
        integration.name = _clean_name(name)
        changed.append("name")
    if is_enabled is not UNSET:
        integration.is_enabled = bool(is_enabled)
        changed.append("is_enabled")
    new_url = webhook_url if webhook_url not in (UNSET, None, "") else None
    new_secret = signing_secret if signing_secret not in (UNSET, None, "") else None
    if integration.kind in URL_KINDS and (new_url is not None or new_secret is not None):
        try:
            secrets = integration.secrets()
        except SecretUnreadable:
            secrets = {}
        if new_url is not None:
            secrets["url"] = _clean_url(new_url, integration.kind)
            changed.append("webhook_url")
        if new_secret is not None:
            if integration.kind != IntegrationKind.WEBHOOK:
                raise ValidationError({"signing_secret": ["Only webhooks are signed."]})
            secrets["signing_secret"] = _clean_secret(new_secret)
            changed.append("signing_secret")
        if not secrets.get("url"):
            raise ValidationError({"webhook_url": ["Enter the webhook URL again."]})
        if integration.kind == IntegrationKind.WEBHOOK and not secrets.get("signing_secret"):
            raise ValidationError({"signing_secret": ["Enter the signing secret again."]})
        _store_secrets(integration, secrets)
    if recipients is not UNSET:
        if integration.kind != IntegrationKind.EMAIL:
            raise ValidationError({"recipients": ["Only e-mail integrations have recipients."]})
        integration.config = {**integration.config, "recipients": _clean_recipients(recipients)}
        changed.append("recipients")
    if changed:
        integration.updated_at = timezone.now()
        audited_save(
            integration, "integration.updated", user=user, team=integration.team,
            detail=lambda: {"integration_id": integration.pk, "fields": changed},
        )  # fmt: skip
    return integration


def integration_delete(*, integration: Integration, user: User | None) -> None:
    with transaction.atomic():
        audit_record(
            "integration.deleted",
            user=user,
            team=integration.team,
            detail={
                "integration_id": integration.pk,
                "kind": integration.kind,
                "name": integration.name,
            },
        )
        integration.delete()


def integration_test(*, integration: Integration, user: User | None) -> Delivery:
    """Queue a test message (sent even while the integration is disabled: someone asked)."""
    message = message_for_test(team_name=integration.team.name, integration_name=integration.name)
    delivery = delivery_create(
        integration=integration, message=message, event=DeliveryEvent.TEST, user=user
    )
    assert delivery is not None
    audit_record(
        "integration.tested",
        user=user,
        team=integration.team,
        detail={"integration_id": integration.pk, "delivery_id": delivery.pk},
    )
    return delivery


# --- notification rules ------------------------------------------------------------------------


def rules_for(team: Team) -> QuerySet[NotificationRule]:
    return (
        NotificationRule.objects.filter(team=team)
        .select_related("integration")
        .order_by("integration__name", "event", "pk")
    )


def _clean_severity(value: Any) -> str:
    if value not in SEVERITIES:
        raise ValidationError({"min_severity": [f"One of {', '.join(SEVERITIES)}."]})
    return str(value)


def _rule_parameters(event: str, days: Any, technology: Any) -> tuple[int, str]:
    try:
        days = int(days)
    except (TypeError, ValueError):
        raise ValidationError({"days": ["A whole number of days."]}) from None
    if not 1 <= days <= 365:
        raise ValidationError({"days": ["Between 1 and 365 days."]})
    names = [n.strip().lower() for n in str(technology or "").split(",") if n.strip()]
    if event == RuleEvent.TECHNOLOGY_SEEN and not names:
        raise ValidationError({"technology": ["Name the technology (e.g. nginx, wordpress)."]})
    if any(len(n) > 60 for n in names):
        raise ValidationError({"technology": ["A technology name is at most 60 characters."]})
    return days, ", ".join(names)[:200]


def rule_create(
    *,
    team: Team,
    user: User | None,
    event: str,
    integration_id: Any,
    min_severity: str = "high",
    is_enabled: bool = True,
    days: int = 30,
    technology: str = "",
) -> NotificationRule:
    """On `event` (scan completed, scan failed, new finding at or above `min_severity`; and on
    the inventory: new service, new subdomain, a certificate expiring within `days`, one of the
    `technology` names appearing) send to one of the team's integrations. One rule per event and
    integration."""
    if event not in RuleEvent.values:
        raise ValidationError({"event": [f"One of {', '.join(RuleEvent.values)}."]})
    days, technology = _rule_parameters(event, days, technology)
    integration = Integration.objects.filter(team=team, pk=integration_id).first()
    if integration is None:
        raise ValidationError({"integration": ["Unknown integration."]})
    rule = NotificationRule(
        team=team, event=event, integration=integration, min_severity=_clean_severity(min_severity),
        is_enabled=bool(is_enabled), created_by=user, days=days, technology=technology,
    )  # fmt: skip
    try:
        audited_save(
            rule, "notification_rule.created", user=user, team=team,
            detail=lambda: {"rule_id": rule.pk, "event": event, "integration_id": integration.pk},
        )  # fmt: skip
    except IntegrityError:
        raise ValidationError(
            {"event": [f"“{integration.name}” already has a rule for this event."]}
        ) from None
    return rule


def rule_update(
    *, rule: NotificationRule, user: User | None, min_severity: Any = UNSET, is_enabled: Any = UNSET
) -> NotificationRule:
    if min_severity is not UNSET:
        rule.min_severity = _clean_severity(min_severity)
    if is_enabled is not UNSET:
        rule.is_enabled = bool(is_enabled)
    audited_save(
        rule, "notification_rule.updated", user=user, team=rule.team,
        detail=lambda: {
            "rule_id": rule.pk, "min_severity": rule.min_severity, "is_enabled": rule.is_enabled,
        },
    )  # fmt: skip
    return rule


def rule_delete(*, rule: NotificationRule, user: User | None) -> None:
    with transaction.atomic():
        audit_record(
            "notification_rule.deleted", user=user, team=rule.team, detail={"rule_id": rule.pk}
        )
        rule.delete()
