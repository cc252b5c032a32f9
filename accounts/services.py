"""Account, team, API key and key-reset operations. Pages, the API and the admin all call these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import (
    SLA_DEFAULT_DAYS,
    SLA_MAX_DAYS,
    ApiKey,
    AuditEvent,
    KeyResetToken,
    Membership,
    Role,
    Team,
    User,
    lower_role,
    normalize_email,
    role_at_least,
)
from accounts.tokens import (
    PREFIX_LENGTH,
    generate_api_key,
    generate_reset_token,
    hash_secret,
    looks_like_api_key,
)

log = structlog.get_logger(__name__)


# --- Users and teams -----------------------------------------------------------------------


@transaction.atomic
def user_register(*, email: str, password: str | None = None, display_name: str = "") -> User:
    """Create an account with its personal team, in which the user is owner."""
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": ["An account with this e-mail already exists."]})
    try:
        user = User.objects.create_user(email, password, display_name=display_name)
    except IntegrityError as exc:  # a concurrent sign-up with the same address
        raise ValidationError({"email": ["An account with this e-mail already exists."]}) from exc
    team = Team.objects.create(
        name=f"{display_name or email.split('@')[0]}'s team", personal_owner=user
    )
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    audit_record("account.registered", user=user, team=team)
    return user


def teams_for(user: User) -> list[Membership]:
    """The user's memberships, personal team first."""
    memberships = Membership.objects.filter(user=user).select_related("team")
    return sorted(memberships, key=lambda m: (not m.team.is_personal, m.team.name.lower()))


def membership_for(user: User, team_id: int | None) -> Membership | None:
    """The user's membership in team `team_id`, or in their personal team when none is given."""
    qs = Membership.objects.filter(user=user).select_related("team")
    if team_id is not None:
        found = qs.filter(team_id=team_id).first()
        if found is not None:
            return found
    return qs.filter(team__personal_owner=user).first() or qs.order_by("pk").first()


@transaction.atomic
def team_create(*, name: str, owner: User) -> Team:
    """A shared team; its creator is its first owner."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A team needs a name."]})
    team = Team.objects.create(name=name[:120])
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    audit_record("team.created", user=owner, team=team)
    return team


def team_sla_update(*, team: Team, user: User | None, days: dict[str, int]) -> Team:
    """Set the team's days to fix an open finding by severity (critical, high, medium, low; 1 to
    SLA_MAX_DAYS). Due dates are computed from them, so the change applies to every finding at
    once. Only owners change it (the views check the role)."""
    errors = {}
    for severity in SLA_DEFAULT_DAYS:
        value = days.get(severity, getattr(team, f"sla_{severity}_days"))
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= SLA_MAX_DAYS:
            errors[severity] = [f"Days between 1 and {SLA_MAX_DAYS}."]
        else:
            setattr(team, f"sla_{severity}_days", value)
    if errors:
        raise ValidationError(errors)
    team.save(update_fields=[f"sla_{s}_days" for s in SLA_DEFAULT_DAYS])
    audit_record("team.sla_changed", user=user, team=team, detail=team.sla_days)
    return team


def team_owner_require(team: Team, actor: User) -> None:
    """Raise PermissionError unless `actor` owns `team`."""
    if not Membership.objects.filter(team=team, user=actor, role=Role.OWNER).exists():
        raise PermissionError("Only an owner of the team can change its members.")


@transaction.atomic
def team_member_set_role(*, membership: Membership, actor: User, role: str) -> Membership:
    team_owner_require(membership.team, actor)
    if role not in Role.values:
        raise ValidationError({"role": [f"Role must be one of {', '.join(Role.values)}."]})
    if membership.role == Role.OWNER and role != Role.OWNER:
        _refuse_last_owner(membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        "team.member_role_changed",
        user=actor,
        team=membership.team,
        detail={"member": membership.user.email, "from": old, "to": role},
    )
    return membership


def _refuse_last_owner(membership: Membership) -> None:
    owners = Membership.objects.filter(team=membership.team, role=Role.OWNER)
    if owners.exclude(pk=membership.pk).count() == 0:
        raise ValidationError({"role": ["A team needs at least one owner."]})


@transaction.atomic
def team_member_remove(*, membership: Membership, actor: User) -> None:
    """Remove a member (owners remove anyone; anyone may leave). Their team keys stop working."""
    if membership.user_id != actor.pk:
        team_owner_require(membership.team, actor)
    if membership.team.personal_owner_id == membership.user_id:
        raise ValidationError({"member": ["Nobody can leave their personal team."]})
    if membership.role == Role.OWNER:
        _refuse_last_owner(membership)
    ApiKey.objects.filter(team=membership.team, user=membership.user, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    audit_record(
        "team.member_removed",
        user=actor,
        team=membership.team,
        detail={"member": membership.user.email},
    )
    membership.delete()


# --- API keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    raw_key: str  # shown once, never stored


@transaction.atomic
def _name_taken(team: Team, user: User, name: str) -> ValidationError | None:
    keys = ApiKey.objects.filter(team=team, user=user, name__iexact=name, revoked_at__isnull=True)
    found = keys.first()
    words = "give this one another name, or revoke that one first."
    message = (
        f"You already have a key named “{found.name}” ({found.prefix}…); {words}" if found else ""
    )
    return ValidationError({"name": [message]}) if found else None


def api_key_create(
    *,
    team: Team,
    user: User,
    name: str,
    role: str | None = None,
    expires_at: datetime | None = None,
    acting_role: str | None = None,
) -> IssuedKey:
    """Issue a key for `user` in `team`. A key never has more rights than its creator: neither
    the creator's role in the team nor, when the request acts through an API key, that key's
    role (`acting_role`), so a viewer key of an owner cannot mint an owner key."""
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None:
        raise PermissionError("You are not a member of this team.")
    ceiling = membership.role if acting_role is None else lower_role(membership.role, acting_role)
    role = role or ceiling
    if role not in Role.values:
        raise ValidationError({"role": [f"Role must be one of {', '.join(Role.values)}."]})
    if not role_at_least(ceiling, role):
        raise ValidationError(
            {"role": [f"You act as {ceiling} in this team; a key cannot be {role}."]}
        )
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the key a name (what uses it)."]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": ["Expiry must be in the future."]})
    name = name[:100]
    if taken := _name_taken(team, user, name):
        raise taken
    raw = generate_api_key()
    try:
        with transaction.atomic():
            api_key = ApiKey.objects.create(
                team=team,
                user=user,
                name=name,
                prefix=raw[:PREFIX_LENGTH],
                key_hash=hash_secret(raw),
                role=role,
                expires_at=expires_at,
            )
    except IntegrityError as exc:  # the same name created at the same moment
        raise _name_taken(team, user, name) or exc from exc
    audit_record(
        "api_key.created",
        user=user,
        team=team,
        detail={"api_key_id": api_key.pk, "prefix": api_key.prefix, "role": role},
    )
    return IssuedKey(api_key=api_key, raw_key=raw)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User, as_operator: bool = False) -> ApiKey:
    """Revoke a key: its owner, an owner of its team, or (`as_operator`) a staff member in the
    Django admin. The audit row names whoever revoked it, and the key's holder."""
    if not as_operator and api_key.user_id != actor.pk:
        team_owner_require(api_key.team, actor)
    if as_operator and not actor.is_staff:
        raise PermissionError("Only staff revoke keys from the admin.")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        detail: dict[str, Any] = {"api_key_id": api_key.pk, "prefix": api_key.prefix}
        if api_key.user_id != actor.pk:
            detail["holder_id"] = api_key.user_id
        if as_operator:
            detail["via"] = "admin"
        audit_record("api_key.revoked", user=actor, team=api_key.team, detail=detail)
    return api_key


def api_keys_for(*, team: Team, user: User) -> list[ApiKey]:
    """Keys visible to `user` in `team`: their own, or all of the team's for an owner."""
    qs = ApiKey.objects.filter(team=team).select_related("user").order_by("-created_at")
    if not Membership.objects.filter(team=team, user=user, role=Role.OWNER).exists():
        qs = qs.filter(user=user)
    return list(qs)


class AuthenticationFailed(Exception):
    """Credentials were refused; the message is safe to show."""


@dataclass(frozen=True)
class ApiCredential:
    """Who an API request acts as: user, team, effective role, and the key it came from."""

    user: User
    team: Team
    role: str
    api_key: ApiKey
    via: str  # "api_key" | "jwt"


def api_key_authenticate(raw: str, *, via: str = "api_key") -> ApiCredential:
    """Resolve a raw API key to a credential, or raise AuthenticationFailed."""
    if not looks_like_api_key(raw):
        raise AuthenticationFailed("Invalid API key.")
    api_key = api_keys_with_member_role().filter(key_hash=hash_secret(raw)).first()
    return credential_for_key(api_key, via=via)


def api_keys_with_member_role() -> QuerySet[ApiKey]:
    """API keys with their user and team, and their user's current role in the key's team as
    `member_role` (None: no longer a member), in the one query every API request makes."""
    role = Membership.objects.filter(team_id=OuterRef("team_id"), user_id=OuterRef("user_id"))
    return ApiKey.objects.select_related("user", "team").annotate(
        member_role=Subquery(role.values("role")[:1])
    )


def credential_for_key(api_key: ApiKey | None, *, via: str) -> ApiCredential:
    now = timezone.now()
    if api_key is None:
        raise AuthenticationFailed("Invalid API key.")
    if api_key.revoked_at is not None:
        raise AuthenticationFailed("This API key has been revoked.")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise AuthenticationFailed("This API key has expired.")
    if not api_key.user.is_active:
        raise AuthenticationFailed("This account is disabled.")
    member_role: str | None
    if hasattr(api_key, "member_role"):
        member_role = api_key.member_role
    else:  # a key not read through api_keys_with_member_role
        membership = Membership.objects.filter(team_id=api_key.team_id, user_id=api_key.user_id)
        member_role = membership.values_list("role", flat=True).first()
    if member_role is None:
        raise AuthenticationFailed("This API key's user is no longer a member of its team.")
    # The member's current role caps the key: demoting a user demotes their keys.
    role = api_key.role if role_at_least(member_role, api_key.role) else member_role
    _touch(api_key, now)
    return ApiCredential(user=api_key.user, team=api_key.team, role=role, api_key=api_key, via=via)


def _touch(api_key: ApiKey, now: datetime) -> None:
    """Record use at most once a minute per key, and note the very first use in the audit log."""
    first_use = api_key.last_used_at is None
    if not first_use and api_key.last_used_at and now - api_key.last_used_at < timedelta(minutes=1):
        return
    updated = ApiKey.objects.filter(pk=api_key.pk, last_used_at=api_key.last_used_at).update(
        last_used_at=now
    )
    api_key.last_used_at = now
    if first_use and updated:
        audit_record(
            "api_key.first_used",
            user=api_key.user,
            team=api_key.team,
            detail={"api_key_id": api_key.pk, "prefix": api_key.prefix},
        )


# --- Key reset (the CI path: no browser) ---------------------------------------------------


def key_reset_request(*, email: str) -> None:
    """Queue the e-mail with a reset token. The answer never says whether the account exists:
    the lookup and the e-mail happen on a worker, so the response time does not tell either."""
    from django_q.tasks import async_task

    normalized = normalize_email(email)
    audit_record("key_reset.requested", user_email=normalized)
    async_task("accounts.tasks.key_reset_send", normalized, task_name="key-reset-send")


def key_reset_send(*, email: str) -> bool:
    """Create a one-time token for `email` and mail it. Returns whether an account matched."""
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None:
        return False
    reset_token_send(
        user,
        subject="Your Outpost API key reset token",
        label="Reset token",
        opening=f"Someone asked to reset the API keys of {user.email} on Outpost.",
        closing=(
            "Confirming revokes every API key you have and returns a new one.\n"
            "If you did not ask for this, ignore this message; nothing changes."
        ),
    )
    return True


def reset_token_send(user: User, *, subject: str, label: str, opening: str, closing: str) -> None:
    """Mail `user` a one-time token that `reset-confirm` exchanges for a new API key."""
    raw = generate_reset_token()
    lifetime = timedelta(seconds=settings.API_KEY_RESET_TOKEN_LIFETIME_S)
    KeyResetToken.objects.create(
        user=user, token_hash=hash_secret(raw), expires_at=timezone.now() + lifetime
    )
    minutes = settings.API_KEY_RESET_TOKEN_LIFETIME_S // 60
    send_mail(
        subject=subject,
        message=(
            f"{opening}\n\n"
            f"{label}: {raw}\n\n"
            f"It works once, for {minutes} minutes:\n"
            f'  POST /api/v1/auth/reset-confirm {{"email": "{user.email}", "token": "<token>"}}\n\n'
            f"{closing}"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    # The request itself was recorded without an account (its answer must not tell); now that
    # one matched, its holder sees the token go out in their own audit log.
    audit_record(
        "key_reset.token_sent",
        user=user,
        team=Team.objects.filter(personal_owner=user).first(),
        detail={"expires_in_s": settings.API_KEY_RESET_TOKEN_LIFETIME_S},
    )


def key_reset_confirm(*, email: str, token: str) -> IssuedKey:
    """Exchange a valid, unused reset token for a new key; every older key of the user is revoked."""
    now = timezone.now()
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is not None and token:
        with transaction.atomic():
            # The conditional UPDATE makes the token single-use even under concurrent confirmations.
            used = KeyResetToken.objects.filter(
                user=user, token_hash=hash_secret(token), used_at=None, expires_at__gt=now
            ).update(used_at=now)
            if used == 1:
                revoked = ApiKey.objects.filter(user=user, revoked_at=None).update(revoked_at=now)
                team = Team.objects.get(personal_owner=user)
                issued = api_key_create(
                    team=team, user=user, name=f"reset {now:%Y-%m-%d %H:%M} UTC"
                )
                audit_record(
                    "key_reset.confirmed",
                    user=user,
                    team=team,
                    detail={"revoked_keys": revoked, "api_key_id": issued.api_key.pk},
                )
                return issued
    # Recorded outside the transaction: a failed attempt must stay in the audit table.
    audit_record(
        "key_reset.confirmed",
        outcome=AuditEvent.Outcome.FAILED,
        user=user,
        team=Team.objects.filter(personal_owner=user).first() if user else None,
        user_email=normalize_email(email)[:254],
    )
    raise AuthenticationFailed("Invalid or expired reset token.")
