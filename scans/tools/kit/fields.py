"""Constructors of config fields (the CONFIG_FIELDS dicts described in `scans.tools.kit.options`),
one line per field: `fields.integer("depth", 100, 1, 100_000, "Commits of history to clone")`.
Tool modules import the module (`from scans.tools.kit import fields`) and declare their fields
with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from scans.tools.kit.options import ConfigField


def integer(name: str, default: int, low: int, high: int, help: str) -> ConfigField:
    """A whole number from `low` to `high`."""
    return {"name": name, "type": "int", "default": default, "min": low, "max": high, "help": help}


def boolean(name: str, default: bool, help: str) -> ConfigField:
    return {"name": name, "type": "bool", "default": default, "help": help}


def choice(name: str, default: str, choices: Iterable[str], help: str) -> ConfigField:
    """One of `choices` (a dict gives its keys)."""
    return {
        "name": name,
        "type": "choice",
        "default": default,
        "choices": list(choices),
        "help": help,
    }


def text(
    name: str,
    default: str,
    max_length: int,
    help: str,
    validate: Callable[[Any], Any] | None = None,
) -> ConfigField:
    """Text of `max_length` characters at most, checked by `validate` when given (it raises
    ValueError naming the problem)."""
    field: ConfigField = {"name": name, "type": "str", "default": default, "max_length": max_length}
    if validate is not None:
        field["validate"] = validate
    return {**field, "help": help}


def request_timeout(default: int, high: int, help: str) -> ConfigField:
    """`timeout_ms`: the timeout of each request, question or handshake a built-in tool makes."""
    return integer("timeout_ms", default, 100, high, help)


def concurrency(default: int, high: int, help: str = "Requests in flight at once") -> ConfigField:
    """`concurrency`: how much a built-in tool has in flight at once."""
    return integer("concurrency", default, 1, high, help)
