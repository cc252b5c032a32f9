"""Text helpers shared by the kinds: platforms refuse over-long fields instead of cutting them."""

from __future__ import annotations


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
