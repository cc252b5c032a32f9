"""Who acts in a request: the team and user set by the team middleware (pages) or the API
credential (DRF), typed for the services."""

from __future__ import annotations

from typing import Any, cast

from accounts.models import Team, User


def acting_team(request: Any) -> Team:
    return cast(Team, request.team)


def acting_user(request: Any) -> User | None:
    user = request.user
    return cast(User, user) if user is not None and user.is_authenticated else None


def is_htmx(request: Any) -> bool:
    """Whether django-htmx saw an HTMX request (its `request.htmx` is falsy otherwise)."""
    return bool(getattr(request, "htmx", False))
