"""OpenAPI generation hooks (drf-spectacular settings point here)."""

from __future__ import annotations

from typing import Any

from drf_spectacular import plumbing


def build_mock_request(
    method: str, path: str, view: Any, original_request: Any, **kwargs: Any
) -> Any:
    """The fake request drf-spectacular hands each view while it derives the schema.

    Every Outpost queryset is scoped by `request.team` (set by middleware or the API auth
    classes, which schema generation never runs). Without a team the view's `get_queryset()`
    raises and drf-spectacular can no longer type the `{id}` path parameter; with `team=None`
    the queryset is merely empty, and its model tells the type."""
    request = plumbing.build_mock_request(method, path, view, original_request, **kwargs)
    for name in ("team", "membership", "role", "credential"):
        setattr(request._request, name, None)
    return request
