"""Registration, over the API (CI) and on the sign-up page, with one answer whatever the address.

Answering "an account already uses this e-mail", or logging a new browser in at once (which an
existing account's address cannot get), tells anyone which addresses have accounts. So both
paths only queue the address (`account_register_request`: the same rate limit, database writes
and answer for a free and a taken address), and a worker does the rest
(`account_register_send`): it creates the account with its personal team and mails what proves
the mailbox — a token for the first API key (API), or a link that sets the password and logs in
(browser) — or, when an account already uses the address, mails its holder instead. Proving the
mailbox also stops anyone registering someone else's address and using it.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.audit import audit_record
from accounts.models import Team, User, normalize_email
from accounts.services import reset_token_send, user_register

Via = Literal["api", "browser"]


def account_register_request(
    *, email: str, via: Via = "api", display_name: str = "", next_path: str = ""
) -> None:
    """Queue the registration of `email`. The caller answers the same whatever happens next:
    nothing here reads whether an account uses the address, so neither the answer nor its time
    tells. `next_path` (browser) is where the mailed link leads once the password is set (an
    invitation's page), a path of this site that the caller has checked."""
    from django_q.tasks import async_task

    normalized = normalize_email(email)
    audit_record("account.register_requested", user_email=normalized, detail={"via": via})
    async_task(
        "accounts.tasks.account_register_send",
        normalized,
        via,
        display_name,
        next_path,
        task_name="account-register",
    )


def account_register_send(
    *, email: str, via: Via = "api", display_name: str = "", next_path: str = ""
) -> bool:
    """Register `email` (account, personal team) and mail it what finishes the registration;
    when an account already uses it, mail its holder instead. Returns whether one was made."""
    email = normalize_email(email)
    existing = User.objects.filter(email=email).first()
    if existing is None:
        try:
            user = user_register(email=email, display_name=display_name)
        except ValidationError:  # a concurrent registration of the same address won
            existing = User.objects.filter(email=email).first()
        else:
            if via == "browser":
                _signup_link_send(user, next_path=next_path, repeated=False)
            else:
                reset_token_send(
                    user,
                    subject="Welcome to Outpost: your first API key",
                    label="First key token",
                    opening=f"An Outpost account was created for {email}, with its personal team.",
                    closing="Confirming returns your first API key. It is shown once: keep it.",
                )
            return True
    if existing is None or not existing.is_active:
        return False
    if via == "browser":
        # An account whose sign-up was never finished (no password, never logged in) gets
        # the welcome link again; any other holder learns that someone tried.
        finished = existing.has_usable_password() or existing.last_login is not None
        _signup_link_send(existing, next_path=next_path, repeated=finished)
    else:
        send_mail(
            subject="Someone tried to register your e-mail on Outpost",
            message=(
                f"Someone asked to register {email} on Outpost, which already has an account "
                "with this e-mail. Nothing was changed.\n\n"
                "If it was you and you lost your API key, ask for a key reset:\n"
                f'  POST /api/v1/auth/reset-request {{"email": "{email}"}}\n\n'
                "If it was not you, you can ignore this message."
            ),
            from_email=None,
            recipient_list=[email],
        )
    audit_record(
        "account.register_repeated",
        user=existing,
        team=Team.objects.filter(personal_owner=existing).first(),
        detail={"via": via},
    )
    return False


def signup_link(user: User, *, next_path: str = "") -> str:
    """The one-time link that sets `user`'s password and logs them in. Django's password-reset
    token: it is made of the password hash and the last login, so it stops working once the
    password is set or the account logs in, and after PASSWORD_RESET_TIMEOUT."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = settings.PUBLIC_URL + reverse("accounts:signup_finish", args=[uid, token])
    return f"{link}?{urlencode({'next': next_path})}" if next_path else link


def _signup_link_send(user: User, *, next_path: str, repeated: bool) -> None:
    link = signup_link(user, next_path=next_path)
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    if repeated:
        subject = "Someone tried to sign up with your e-mail on Outpost"
        message = (
            f"Someone asked to sign up with {user.email} on Outpost, which already has an "
            "account with this e-mail. Nothing was changed.\n\n"
            f"If it was you, log in at {settings.PUBLIC_URL}{reverse('accounts:login')}.\n"
            "If you forgot your password, set a new one here (the link works once, for "
            f"{hours} hours, and no longer after you log in):\n  {link}\n\n"
            "If it was not you, ignore this message; your password stays as it is."
        )
    else:
        subject = "Finish signing up to Outpost"
        message = (
            f"Someone (we hope you) asked to sign up with {user.email} on Outpost.\n\n"
            f"Set your password here to finish; you are logged in at once:\n  {link}\n\n"
            f"The link works once, for {hours} hours. If it was not you, ignore this message: "
            "without a password nobody can log in with this address."
        )
    send_mail(subject=subject, message=message, from_email=None, recipient_list=[user.email])
