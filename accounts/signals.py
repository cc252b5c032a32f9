"""Login outcomes go to the audit log (the credentials themselves never do).

They are filed under the account's personal team when the request has no team yet (a login
happens before one is chosen), so the account holder sees them in `GET /api/v1/audit`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts.audit import audit_record
from accounts.models import AuditEvent, Team, normalize_email


def _team_of(request: Any, email: str) -> Team | None:
    return (
        getattr(request, "team", None)
        or Team.objects.filter(personal_owner__email=normalize_email(email)).first()
    )


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record("login", user=user, team=_team_of(request, user.email))


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # Django has already replaced the password with asterisks; only the e-mail is kept.
    email = str(credentials.get("username") or credentials.get("email") or "")[:254]
    audit_record(
        "login", outcome=AuditEvent.Outcome.FAILED, user_email=email, team=_team_of(request, email)
    )


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record("logout", user=user, team=_team_of(request, user.email))
