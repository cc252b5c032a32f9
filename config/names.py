"""The names people give things (a workflow, an integration): one line of text."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def name_clean(
    name: Any,
    *,
    max_length: int,
    refused: Callable[[str], Exception],
    missing: str,
    too_long: str,
    control: str,
) -> str:
    """`name` without its surrounding spaces. When it is not a non-blank string, is over
    `max_length` or holds a control character, `refused(message)` is raised with `missing`,
    `too_long` or `control`: the caller's exception, in the caller's words."""
    if not isinstance(name, str) or not name.strip():
        raise refused(missing)
    name = name.strip()
    if len(name) > max_length:
        raise refused(too_long)
    if CONTROL_CHARACTERS.search(name):
        raise refused(control)
    return name
