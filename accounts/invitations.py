"""Team invitations by e-mail. An owner invites an address whether or not an account uses it, and
gets the same answer either way: saying "no account uses this e-mail" let anyone who creates a
team probe which addresses have accounts. A worker mails the link (with a one-time token, valid
INVITATION_LIFETIME); the account with that address accepts it, signing up first if it has none.
Inviting is rate-limited per inviter and address (RATE_LIMIT_INVITE): each one mails someone."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Invitation, Membership, Role, Team, User, normalize_email
from accounts.ratelimits import rate_limit_check
from accounts.services import team_owner_require
from accounts.tokens import generate_reset_token, hash_secret

INVITATION_LIFETIME = timedelta(days=7)


def team_member_invite(
    *, team: Team, inviter: User, email: str, role: str, request: HttpRequest | None = None
) -> Invitation:
    """Invite `email` into `team` with `role` (owners only). The answer does not depend on whether
    an account uses the address; a pending invitation of the same address is replaced (a new
    link, the new role). `request` counts against the invitation rate limit (RateLimited)."""
    rate_limit_check(request, "invite", account=inviter.email, what="invitations")
    team_owner_require(team, inviter)
    if role not in Role.values:
        raise ValidationError({"role": [f"Role must be one of {', '.join(Role.values)}."]})
    if team.is_personal:
        raise ValidationError(
            {"email": ["A personal team cannot have other members; create a team."]}
        )
    email = normalize_email(email)
    # The members are listed to the owner anyway: saying so reveals nothing new.
    if Membership.objects.filter(team=team, user__email=email).exists():
        raise ValidationError({"email": [f"{email} is already a member of this team."]})
    with transaction.atomic():
        Invitation.objects.filter(team=team, email=email, accepted_at=None).delete()
        invitation = Invitation.objects.create(
            team=team,
            email=email,
            role=role,
            invited_by=inviter,
            expires_at=timezone.now() + INVITATION_LIFETIME,
        )
        audit_record(
            "team.member_invited", user=inviter, team=team, detail={"email": email, "role": role}
        )
    from django_q.tasks import async_task

    # The mail goes out from a worker: the token is made there, so it never sits in the broker.
    async_task("accounts.tasks.invitation_send", invitation.pk, task_name="invitation-send")
    return invitation


def invitation_send(*, invitation_id: int) -> bool:
    """Make the invitation's one-time token and mail the link. False when it is gone or used."""
    invitation = (
        Invitation.objects.filter(pk=invitation_id, accepted_at=None)
        .select_related("team", "invited_by")
        .first()
    )
    if invitation is None:
        return False
    raw = generate_reset_token()
    invitation.token_hash = hash_secret(raw)
    invitation.save(update_fields=["token_hash"])
    inviter = invitation.invited_by.email if invitation.invited_by else "An owner"
    send_mail(
        subject=f"You are invited to {invitation.team.name} on Outpost",
        message=(
            f"{inviter} invited {invitation.email} to the team {invitation.team.name} on Outpost "
            f"as {invitation.role}.\n\n"
            f"Accept it here (log in, or sign up with this address first):\n"
            f"  {settings.PUBLIC_URL}/accounts/invitations/{raw}\n\n"
            f"The link works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
            "If you do not know this team, ignore this message."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    return True


def invitation_by_token(raw: str) -> Invitation | None:
    """The pending, unexpired invitation this link's token opens, else None."""
    if not raw or len(raw) > 200:
        return None
    return (
        Invitation.objects.filter(
            token_hash=hash_secret(raw), accepted_at=None, expires_at__gt=timezone.now()
        )
        .select_related("team", "invited_by")
        .first()
    )


def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the invitation's team as its role. Only the account with the invited address may:
    the link proves the mailbox, the login proves the account."""
    if normalize_email(user.email) != invitation.email:
        raise ValidationError(
            f"This invitation is for {invitation.email}; you are logged in as {user.email}."
        )
    with transaction.atomic():
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at=None, expires_at__gt=timezone.now()
        ).update(accepted_at=timezone.now())
        if claimed != 1:
            raise ValidationError("This invitation was already used or has expired.")
        membership, created = Membership.objects.get_or_create(
            team=invitation.team,
            user=user,
            defaults={"role": invitation.role, "invited_by": invitation.invited_by},
        )
        if created:
            audit_record(
                "team.member_added",
                user=user,
                team=invitation.team,
                detail={"member": user.email, "role": invitation.role, "invitation": True},
            )
    return membership


def invitation_withdraw(*, invitation: Invitation, actor: User) -> None:
    """An owner withdraws a pending invitation; its link stops working."""
    team_owner_require(invitation.team, actor)
    audit_record(
        "team.invitation_withdrawn",
        user=actor,
        team=invitation.team,
        detail={"email": invitation.email},
    )
    invitation.delete()


def invitations_pending(team: Team) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        team=team, accepted_at=None, expires_at__gt=timezone.now()
    ).select_related("invited_by")
