"""Users (e-mail login), teams and roles, API keys, key-reset tokens and the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ANALYST = "analyst", "Analyst"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 1, Role.ANALYST: 2, Role.OWNER: 3}


def role_at_least(role: str | None, required: str) -> bool:
    """Whether `role` grants what `required` needs (owner > analyst > viewer)."""
    return role is not None and ROLE_RANK.get(Role(role), 0) >= ROLE_RANK[Role(required)]


def lower_role(a: str, b: str) -> str:
    return a if ROLE_RANK[Role(a)] <= ROLE_RANK[Role(b)] else b


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=normalize_email(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        user = self.create_user(email, password, **extra)
        # `manage.py createsuperuser` operators use the app too: the personal team sign-up gives.
        team = Team.objects.create(name=f"{user.email.split('@')[0]}'s team", personal_owner=user)
        Membership.objects.create(team=team, user=user, role=Role.OWNER)
        return user


def normalize_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively: store them lower-cased and trimmed."""
    return email.strip().lower()


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True, max_length=254)
    display_name = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


# Days to fix an open finding, from when it was first seen, by severity (team settings; info has
# no deadline). The defaults are the common 7/30/90/180 policy.
SLA_DEFAULT_DAYS = {"critical": 7, "high": 30, "medium": 90, "low": 180}
SLA_MAX_DAYS = 3650


class Team(models.Model):
    name = models.CharField(max_length=120)
    # Set on the team created at sign-up; it cannot be left or deleted.
    personal_owner = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="personal_team"
    )
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(
        User, through="Membership", through_fields=("team", "user"), related_name="teams"
    )
    sla_critical_days = models.PositiveSmallIntegerField(default=SLA_DEFAULT_DAYS["critical"])
    sla_high_days = models.PositiveSmallIntegerField(default=SLA_DEFAULT_DAYS["high"])
    sla_medium_days = models.PositiveSmallIntegerField(default=SLA_DEFAULT_DAYS["medium"])
    sla_low_days = models.PositiveSmallIntegerField(default=SLA_DEFAULT_DAYS["low"])

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_personal(self) -> bool:
        return self.personal_owner_id is not None

    @property
    def sla_days(self) -> dict[str, int]:
        """Days to fix an open finding by severity (info has no deadline)."""
        return {s: int(getattr(self, f"sla_{s}_days")) for s in SLA_DEFAULT_DAYS}


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANALYST)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")
        ]
        ordering = ["team", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Invitation(models.Model):
    """A team's invitation of an e-mail address, made whether or not an account uses it (the
    inviter's answer is the same either way). The e-mailed link holds a token; the account with
    that address accepts it, signing up first if it has none. Only its hash is stored."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANALYST)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "email"],
                condition=models.Q(accepted_at=None),
                name="invitation_one_pending_per_team_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} ({self.role})"

    def is_pending(self, at: Any = None) -> bool:
        return self.accepted_at is None and self.expires_at > (at or timezone.now())


class ApiKey(models.Model):
    """An API credential. Only a SHA-256 of the key is stored; the key is shown once."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise the key")
    key_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANALYST)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "revoked_at"])]
        constraints = [
            # Two live keys of one person with the same name cannot be told apart in the
            # list (which one to revoke?); a revoked key's name can be used again.
            models.UniqueConstraint(
                "team",
                "user",
                Lower("name"),
                condition=models.Q(revoked_at__isnull=True),
                name="api_key_live_name_unique",
            )
        ]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, at: Any = None) -> bool:
        now = at or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class KeyResetToken(models.Model):
    """A one-time token, valid 15 minutes, that exchanges for a new API key."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reset_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"key reset for {self.user} ({'used' if self.used_at else 'unused'})"


class AuditEvent(models.Model):
    """One API request or security event. Mirrored as a line in var/log/requests.ndjson."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"
        DENIED = "denied", "Denied"
        ERROR = "error", "Error"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.CharField(max_length=64, db_index=True, blank=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_email = models.CharField(max_length=254, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=500, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome}"
