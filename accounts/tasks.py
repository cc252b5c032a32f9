"""django-q2 tasks of the accounts app. Tasks receive plain values, never model objects."""

from __future__ import annotations

from accounts.invitations import invitation_send as _invitation_send
from accounts.registration import Via
from accounts.registration import account_register_send as _account_register_send
from accounts.services import key_reset_send as _key_reset_send


def key_reset_send(email: str) -> bool:
    return _key_reset_send(email=email)


def account_register_send(
    email: str, via: Via = "api", display_name: str = "", next_path: str = ""
) -> bool:
    return _account_register_send(
        email=email, via=via, display_name=display_name, next_path=next_path
    )


def invitation_send(invitation_id: int) -> bool:
    return _invitation_send(invitation_id=invitation_id)
