"""A node's config against its type's schema: validation (every error names its field) and
normalization (defaults applied, keys in schema order, so exports are stable)."""

from __future__ import annotations

import copy
import re
from typing import Any

from workflows.nodes import FieldSpec, NodeType

# A required value not given yet. A node just dropped on the canvas has none: the graph may be
# saved like that (a draft), but not run (workflows.graph).
REQUIRED = "is required"

# Config strings end up in argv lists and logs: no control characters (tab allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def value_error(spec: FieldSpec, value: Any) -> str:
    """Why `value` is not acceptable for the field, or "" when it is (lists: see list_errors)."""
    if spec.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        if spec.min is not None and value < spec.min:
            return f"must be at least {spec.min}"
        if spec.max is not None and value > spec.max:
            return f"must be at most {spec.max}"
    elif spec.type == "str":
        if not isinstance(value, str):
            return "must be text"
        if len(value) > spec.max_length:
            return f"must be at most {spec.max_length} characters"
        if _CONTROL.search(value):
            return "must not contain control characters"
        if spec.required and not value.strip():
            return REQUIRED
    elif spec.type == "bool":
        if not isinstance(value, bool):
            return "must be true or false"
    elif spec.type == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            return f"must be one of {', '.join(spec.choices)}"
    elif spec.type == "list" and not isinstance(value, list):
        return "must be a list"
    if spec.validate is not None:
        try:
            spec.validate(value)
        except (ValueError, TypeError) as exc:
            return str(exc) or "is not valid"
    return ""


def _record_errors(specs: tuple[FieldSpec, ...], record: Any, prefix: str) -> dict[str, str]:
    if not isinstance(record, dict):
        return {prefix: "must be an object"}
    errors: dict[str, str] = {}
    known = {s.name for s in specs}
    for key in record:
        if key not in known:
            errors[f"{prefix}.{key}"] = "unknown field"
    for spec in specs:
        if spec.name in record:
            problem = value_error(spec, record[spec.name])
        elif spec.required or spec.default is None:
            problem = REQUIRED
        else:
            problem = ""
        if problem:
            errors[f"{prefix}.{spec.name}"] = problem
    return errors


def config_errors(node: NodeType, config: Any) -> dict[str, str]:
    """Field name -> problem; empty when the config is valid for this (available) node type.

    List fields report per record and field: `rules[2].regex`."""
    if not isinstance(config, dict):
        return {"config": "must be an object of field: value"}
    specs = {spec.name: spec for spec in node.config_fields}
    errors: dict[str, str] = {}
    for key in config:
        if key not in specs:
            known = ", ".join(specs) or "none"
            errors[str(key)] = f"unknown config field for {node.type} (known: {known})"
    for name, spec in specs.items():
        if name not in config:
            if spec.required and spec.default is None:
                errors[name] = REQUIRED
            continue
        value = config[name]
        problem = value_error(spec, value)
        if problem:
            errors[name] = problem
        elif spec.type == "list":
            if len(value) > spec.max_items:
                errors[name] = f"at most {spec.max_items} entries"
            for index, record in enumerate(value[: spec.max_items]):
                errors.update(_record_errors(spec.fields, record, f"{name}[{index}]"))
    if not errors:
        extra_check = getattr(node.runner_module(), "config_problems", None)
        if extra_check is not None:
            errors.update(
                {str(k): str(v) for k, v in extra_check(config_normalize(node, config)).items()}
            )
    return errors


def _record_normalize(specs: tuple[FieldSpec, ...], record: dict[str, Any]) -> dict[str, Any]:
    return {
        s.name: copy.deepcopy(record.get(s.name, s.default))
        for s in specs
        if s.name in record or s.default is not None
    }


def config_normalize(node: NodeType, config: dict[str, Any]) -> dict[str, Any]:
    """The config with defaults applied, keys in schema order (call on a valid config)."""
    normalized: dict[str, Any] = {}
    for spec in node.config_fields:
        if spec.name in config:
            value = config[spec.name]
        elif spec.default is not None:
            value = copy.deepcopy(spec.default)
        else:
            continue
        if spec.type == "list":
            value = [_record_normalize(spec.fields, r) for r in value if isinstance(r, dict)]
        normalized[spec.name] = value
    return normalized
