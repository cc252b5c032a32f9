"""Typed requests: what the middleware and the API authentication put on a request, so views and
services read `request.team` without casts or `# type: ignore`.

- `TeamHttpRequest` is a page request that passed `team_role_required` (or `login_required`
  inside a team): `accounts.middleware.TeamMiddleware` set its team, membership and role, and
  django-htmx its `htmx`. Annotate page views with it, as django-htmx's `HtmxHttpRequest` and
  healthchecks' `AuthenticatedHttpRequest` do.
- DRF views keep DRF's `Request` in their signatures (their base classes say so); `team_of` and
  `user_of` read the same attributes from either kind of request, which `TeamRolePermission`
  has already checked are there.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import Membership, Team, User


class TeamHttpRequest(HttpRequest):
    """A page request inside a team (for typing only: the middleware sets these)."""

    user: User
    team: Team
    membership: Membership | None  # None for an API credential (it has a role, not a membership)
    role: str
    htmx: HtmxDetails
    request_id: str


def team_of(request: Any) -> Team:
    """The team a request acts in (pages: the session's current team; API: the credential's)."""
    return cast(Team, request.team)


def user_of(request: Any) -> User:
    """The authenticated user of a request (views behind a team permission always have one)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise PermissionDenied("Authentication is required.")
    return cast(User, user)


def role_of(request: Any) -> str | None:
    """The request's role in its team (None outside a team)."""
    return cast("str | None", getattr(request, "role", None))


def is_htmx(request: Any) -> bool:
    """Whether django-htmx saw an HTMX request (its `request.htmx` is falsy otherwise)."""
    return bool(getattr(request, "htmx", False))
