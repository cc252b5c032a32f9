"""Config fields of the built-in tools, and their argv round trip.

A built-in node's config is described by CONFIG_FIELDS, a list of plain dicts the node registry
(workflows.nodes) turns into a form and validates with:

    name        the config key
    type        "int" | "str" | "bool" | "choice"
    default     applied when the key is absent
    help        one line for the form
    min, max    for int
    max_length  for str
    choices     for choice (a list of strings)
    validate    optional callable(value) that raises ValueError with a message naming the problem

Tool modules write them with the constructors of `scans.tools.kit.fields`, one line per field.

`commands()` turns a validated config into a "builtin:<tool>" argv and `run()` parses that argv
back (BuiltinArgs), so what a dry run shows is exactly what a real run does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from django.conf import settings

ConfigField = dict[str, Any]


class ConfigError(ValueError):
    """A node config value is wrong; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def timeout_field() -> ConfigField:
    """The step timeout every built-in tool offers; the engine reads it (capped by
    STEP_MAX_TIMEOUT_S) and stops the step through `ctx.is_cancelled()` when it passes."""
    return {
        "name": "timeout_s",
        "type": "int",
        "default": int(getattr(settings, "STEP_DEFAULT_TIMEOUT_S", 600)),
        "min": 1,
        "max": int(getattr(settings, "STEP_MAX_TIMEOUT_S", 3000)),
        "help": "Stop the step after this many seconds",
    }


def clone_size_field() -> ConfigField:
    """The clone limit of the tools that clone a repository (secret_scan, gitleaks)."""
    return {
        "name": "max_repo_mb",
        "type": "int",
        "default": 500,
        "min": 1,
        "max": 10240,
        "help": "Largest file the clone may write (git's pack)",
    }


def validate_config(config: dict[str, Any] | None, fields: Sequence[ConfigField]) -> dict[str, Any]:
    """The config with defaults applied and every known value checked against its field; a wrong
    value raises ConfigError. The engine passes configs the node registry validated, but commands()
    also serves dry runs, so values are checked again here. Keys the tool does not know are left
    out (the registry refuses them when a workflow is saved)."""
    config = dict(config or {})
    clean: dict[str, Any] = {}
    for field in fields:
        name = field["name"]
        value = config.get(name, field["default"])
        clean[name] = _checked(field, value)
    return clean


def _checked(field: ConfigField, value: Any) -> Any:
    name, kind = field["name"], field["type"]
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(name, "must be true or false")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(name, "must be a whole number")
        if "min" in field and value < field["min"]:
            raise ConfigError(name, f"must be at least {field['min']}")
        if "max" in field and value > field["max"]:
            raise ConfigError(name, f"must be at most {field['max']}")
    elif kind == "str":
        if not isinstance(value, str):
            raise ConfigError(name, "must be text")
        if "max_length" in field and len(value) > field["max_length"]:
            raise ConfigError(name, f"must be at most {field['max_length']} characters")
    elif kind == "choice" and value not in field["choices"]:
        raise ConfigError(name, f"must be one of {', '.join(field['choices'])}")
    validate: Callable[[Any], Any] | None = field.get("validate")
    if validate is not None:
        try:
            validate(value)
        except ValueError as exc:
            raise ConfigError(name, str(exc)) from exc
    return value


class ArgvError(ValueError):
    """A builtin argv that its tool cannot parse (a bug or a hand-edited plan, never user input)."""


class BuiltinArgs(argparse.ArgumentParser):
    """argparse for "builtin:<tool>" argvs: errors raise ArgvError instead of exiting."""

    def __init__(self, tool: str) -> None:
        super().__init__(prog=f"builtin:{tool}", add_help=False, allow_abbrev=False)
        self.tool = tool

    def error(self, message: str) -> NoReturn:
        raise ArgvError(f"{self.prog}: {message}")

    def parse(self, argv: Sequence[str]) -> argparse.Namespace:
        if not argv or argv[0] != self.prog:
            raise ArgvError(f"not a {self.prog} command: {list(argv)[:1]}")
        return self.parse_args(list(argv[1:]))


def flag(name: str, on: bool) -> str:
    """--name / --no-name, for argparse.BooleanOptionalAction options."""
    return f"--{name}" if on else f"--no-{name}"
