"""The node-type registry: every module of the packages named in `settings.NODE_PACKAGES` that
declares `NODE = NodeType(...)` (or `NODES = [...]`, one module running several types) is a node
type, found the first time the registry is asked. Adding a node type is writing one module in one
of those packages (`scans.tools` for tools, `scans.logic` for logic, `integrations.nodes` for
outputs), mirroring its nearest neighbour; nothing else lists it.

The packages are named as strings in settings, so this app imports none of the apps above it:
their modules are loaded by path, the way Django loads middleware. A module that fails to import
is registered under its module name as an unavailable node type with the reason, and every other
type keeps working.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from dataclasses import replace
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from workflows.nodes.base import GROUPS, FieldSpec, NodeType

__all__ = [
    "GROUPS",
    "FieldSpec",
    "NodeType",
    "get_node_type",
    "node_type",
    "node_type_names",
    "node_types",
    "registry_reset",
]

log = structlog.get_logger(__name__)
_lock = threading.Lock()
_registry: dict[str, NodeType] | None = None  # type -> node, in discovery order
_broken: dict[str, NodeType] = {}  # module name -> an unavailable stand-in


def _declared(module: Any, path: str) -> list[NodeType]:
    nodes = getattr(module, "NODES", None)
    if nodes is None:
        node = getattr(module, "NODE", None)
        nodes = [node] if node is not None else []
    return [node if node.runner else replace(node, runner=path) for node in nodes]


def _discover() -> tuple[dict[str, NodeType], dict[str, NodeType]]:
    found: dict[str, NodeType] = {}
    broken: dict[str, NodeType] = {}
    for package in settings.NODE_PACKAGES:
        try:
            where = importlib.import_module(package)
        except ImportError:
            log.warning("node_registry.package_unloadable", package=package, exc_info=True)
            continue
        modules = sorted(pkgutil.iter_modules(where.__path__), key=lambda info: info.name)
        for info in modules:
            if info.ispkg or info.name.startswith("_"):
                continue
            path = f"{package}.{info.name}"
            try:
                module = importlib.import_module(path)
            except Exception:
                log.warning("node_type.unloadable", module=path, exc_info=True)
                broken[info.name] = NodeType(
                    type=info.name,
                    label=info.name,
                    group="Logic",
                    icon="node",
                    help="",
                    runner=path,
                )
                continue
            for node in _declared(module, path):
                if node.type in found:
                    raise ImproperlyConfigured(
                        f"node type {node.type!r} is declared twice: by {found[node.type].runner} "
                        f"and by {node.runner}"
                    )
                found[node.type] = node
    return found, broken


def _nodes() -> dict[str, NodeType]:
    global _registry, _broken
    registry = _registry
    if registry is None:
        with _lock:
            if _registry is None:
                _registry, _broken = _discover()
            registry = _registry
    return registry


def registry_reset() -> None:
    """Forget what was discovered (tests that change NODE_PACKAGES; done on setting_changed)."""
    global _registry, _broken
    with _lock:
        _registry, _broken = None, {}


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "NODE_PACKAGES":
        registry_reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="workflows.nodes.registry_reset")


def node_type(name: str) -> NodeType | None:
    """The registered node type called `name`, or None for an unknown type. A module that could
    not be imported comes back, under its module name, as an unavailable type with the reason."""
    if not isinstance(name, str):
        return None
    node = _nodes().get(name)
    return node if node is not None else _broken.get(name)


def get_node_type(name: str) -> NodeType:
    """Like `node_type`, for callers that hold a validated graph: an unknown type is a KeyError."""
    node = node_type(name)
    if node is None:
        raise KeyError(f"unknown node type {name!r}")
    return node


def node_type_names() -> list[str]:
    """Every registered node type's name (modules that failed to import excluded)."""
    return list(_nodes())


def node_types(*, imports_only: bool = False) -> list[NodeType]:
    """Every registered node type, in palette order: group, then `order`, then name. Types whose
    runner cannot run are included and say so (`unavailable_reason`); types declared only to
    read their reports (`imports_only`) are not, unless asked for (the import registry)."""
    return sorted(
        (node for node in _nodes().values() if imports_only or not node.imports_only),
        key=lambda n: (GROUPS.index(n.group), n.order, n.type),
    )
