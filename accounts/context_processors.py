from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def team(request: HttpRequest) -> dict[str, Any]:
    """The current team and role for the layout (team switcher, role-aware buttons)."""
    role = getattr(request, "role", None)
    return {
        "current_team": getattr(request, "team", None),
        "current_role": role,
        "can_write": role in ("owner", "analyst"),
        "is_owner": role == "owner",
    }
