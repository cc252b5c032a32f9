"""Role checks for the API (DRF) and the pages (a decorator)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.models import Role, role_at_least


def required_role_for(request: Request | HttpRequest, view: Any) -> str:
    """A view may say `required_role`, or per DRF action `action_roles = {"destroy": "owner"}`."""
    action_roles = getattr(view, "action_roles", None) or {}
    action = getattr(view, "action", None)
    if action in action_roles:
        return str(action_roles[action])
    explicit = getattr(view, "required_role", None)
    if explicit:
        return str(explicit)
    return Role.VIEWER if request.method in SAFE_METHODS else Role.ANALYST


class TeamRolePermission(BasePermission):
    """Authenticated, acting in a team, with a role that allows the method: viewers read,
    analysts and owners write, `required_role`/`action_roles` raise the bar."""

    message = "Your role in this team does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if getattr(request, "team", None) is None:
            return False
        return role_at_least(getattr(request, "role", None), required_role_for(request, view))


def team_role_required(
    role: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorator for page views: logged in, and at least `role` in the current team."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not role_at_least(getattr(request, "role", None), role):
                raise PermissionDenied(f"This needs the {role} role in this team.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
