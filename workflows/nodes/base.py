"""What a node type is: presentation (label, group, icon, help), what the engine must know of it
(flags), and the runner module that owns the behaviour (config schema, accepted and emitted item
kinds, `commands`, `run`).

A node type is declared by the module that runs it (`NODE = NodeType(...)`, or a subclass such as
`scans.tools.kit.tool.Tool`); the registry (`workflows.nodes`) finds those modules. The runner is
that module unless `runner` names another. Only successful imports are cached, so a node type
whose runner fails to import is listed as unavailable with the reason, and the registry keeps
working for every other type.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from django.conf import settings

from targets.items import ITEM_KINDS

GROUPS = ("Discover", "Probe", "Scan", "Logic", "Notify", "Report")
FIELD_TYPES = ("int", "str", "bool", "choice", "list")
DEFAULT_STR_MAX_LENGTH = 1000
DEFAULT_LIST_MAX_ITEMS = 50

_runner_cache: dict[str, ModuleType] = {}


@dataclass(frozen=True)
class FieldSpec:
    """One config field of a node type, read from the runner's CONFIG_FIELDS dicts.

    `list` is a list of small records (the rules node), each validated against `fields`."""

    name: str
    type: str
    default: Any = None
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    max_length: int = DEFAULT_STR_MAX_LENGTH
    required: bool = False
    label: str = ""
    fields: tuple[FieldSpec, ...] = ()
    max_items: int = DEFAULT_LIST_MAX_ITEMS
    # Optional check beyond the type and limits: raises ValueError naming the problem.
    validate: Callable[[Any], Any] | None = field(default=None, compare=False)
    # An int field naming one of the team's objects (an alert node's integration): the dotted
    # path of `options(team_id, node_type) -> [(id, label), …]`, shown as a select in the
    # builder. The stored value stays the id; the runner checks it again at run time.
    options_from: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FieldSpec:
        kind = str(raw.get("type", "str"))
        if kind == "text":
            kind = "str"
        if kind not in FIELD_TYPES:
            raise ValueError(f"config field {raw.get('name')!r} has an unsupported type {kind!r}")
        maximum = raw.get("max")
        if raw.get("name") == "timeout_s":
            # No node may ask for more time than the operator allows for any step.
            cap = int(settings.STEP_MAX_TIMEOUT_S)
            maximum = cap if maximum is None else min(int(maximum), cap)
        return cls(
            name=str(raw["name"]),
            type=kind,
            default=raw.get("default"),
            min=raw.get("min"),
            max=maximum,
            choices=tuple(str(c) for c in raw.get("choices") or ()),
            help=str(raw.get("help") or ""),
            max_length=int(raw.get("max_length") or DEFAULT_STR_MAX_LENGTH),
            required=bool(raw.get("required", False)),
            label=str(raw.get("label") or ""),
            fields=tuple(cls.from_dict(f) for f in raw.get("fields") or ()),
            max_items=int(raw.get("max_items") or DEFAULT_LIST_MAX_ITEMS),
            validate=raw.get("validate"),
            options_from=str(raw.get("options_from") or ""),
        )


@dataclass(frozen=True)
class NodeType:
    """A registered node type. `runner` is the dotted path of the module that runs it (the
    registry fills in the declaring module when it is left empty)."""

    type: str
    label: str
    group: str
    icon: str
    help: str
    runner: str = ""
    # Palette position inside the group (lower first; ties by type name).
    order: int = 100
    # Logic nodes pass their input through (filtered): the kinds they emit are the kinds they get,
    # and the findings they hand on are upstream findings, not their own. They run in the engine.
    passthrough: bool = False
    # Nodes that work on upstream findings (logic, alerts, reports) can follow any node.
    consumes_findings: bool = False
    # The findings the node returns *replace* those it received: input findings it does not
    # return are dropped from the scan (the rules node's "drop").
    replaces_findings: bool = False
    # The step waits before it runs: its runner's `wait_s(config)` seconds, counted from the
    # moment its inputs are ready, without holding a worker (the delay node).
    waits: bool = False
    # A setting that must be true for the node to be offered (e.g. GRYPE_ENABLED).
    enabled_setting: str = ""
    # Declared only to read reports of it (a scanner whose reports are imported but that no
    # workflow runs): left out of the palette and the node catalogue, refused in graphs.
    imports_only: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"node type {self.type}: unknown group {self.group!r}")

    # --- The runner, loaded lazily -----------------------------------------------------------

    def runner_module(self) -> ModuleType:
        """The runner module; raises ImportError (with the reason) when it cannot be loaded."""
        cached = _runner_cache.get(self.runner)
        if cached is not None:
            return cached
        module = importlib.import_module(self.runner)
        missing = [
            name
            for name in ("CONFIG_FIELDS", "ACCEPTS", "EMITS", "run")
            if not hasattr(module, name)
        ]
        if missing:
            raise ImportError(f"{self.runner} does not define {', '.join(missing)}")
        _runner_cache[self.runner] = module
        return module

    @property
    def unavailable_reason(self) -> str:
        """Empty when the node can be used; else why not, in words for the user."""
        if self.imports_only:
            return f"{self.type} reports can be imported, but Outpost does not run {self.label}"
        if self.enabled_setting and not getattr(settings, self.enabled_setting, False):
            return f"{self.type} is disabled on this server ({self.enabled_setting}=false)"
        try:
            self.runner_module()
            self.config_fields  # noqa: B018  (a schema that cannot be read makes the node unusable)
        except Exception as exc:  # ImportError, or any error raised while importing the runner
            return f"{self.type} is not available on this server: {self.runner} cannot be loaded ({type(exc).__name__}: {exc})"
        return ""

    @property
    def is_switched_off(self) -> bool:
        """Turned off by its setting (as opposed to missing or broken)."""
        return bool(self.enabled_setting) and not getattr(settings, self.enabled_setting, False)

    @property
    def is_available(self) -> bool:
        return not self.unavailable_reason

    @property
    def config_fields(self) -> list[FieldSpec]:
        return [FieldSpec.from_dict(raw) for raw in self.runner_module().CONFIG_FIELDS]

    @property
    def accepts(self) -> frozenset[str]:
        return frozenset(self.runner_module().ACCEPTS) & frozenset(ITEM_KINDS)

    @property
    def emits(self) -> frozenset[str]:
        return frozenset(self.runner_module().EMITS) & frozenset(ITEM_KINDS)

    @property
    def takes(self) -> list[str]:
        """What the node takes, in words, from the same kinds the validator checks edges with."""
        kinds = sorted(self.accepts, key=ITEM_KINDS.index)
        return kinds + (["findings"] if self.consumes_findings else [])

    @property
    def gives(self) -> list[str]:
        """What the node hands on: its item kinds (a logic node: what reaches it), findings."""
        if self.passthrough:
            return ["what it takes"]
        return sorted(self.emits, key=ITEM_KINDS.index) or ["findings"]

    @property
    def io_text(self) -> str:
        """The palette's line, generated from the kinds: "Takes repo · gives findings"."""
        takes = ", ".join(self.takes) or "nothing"
        return f"Takes {takes} · gives {', '.join(self.gives)}"

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.config_fields if f.default is not None}

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (the API's node catalogue and the builder's palette)."""
        reason = self.unavailable_reason
        info: dict[str, Any] = {
            "type": self.type,
            "label": self.label,
            "group": self.group,
            "icon": self.icon,
            "help": self.help,
            "available": not reason,
            "unavailable_reason": reason,
            "accepts": [],
            "emits": [],
            "consumes_findings": self.consumes_findings,
            "config": [],
        }
        if not reason:
            info["accepts"] = sorted(self.accepts, key=ITEM_KINDS.index)
            info["emits"] = sorted(self.emits, key=ITEM_KINDS.index)
            info["config"] = [field_describe(f) for f in self.config_fields]
        return info


def field_describe(spec: FieldSpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": spec.name,
        "type": spec.type,
        "default": spec.default,
        "help": spec.help,
    }
    if spec.min is not None:
        data["min"] = spec.min
    if spec.max is not None:
        data["max"] = spec.max
    if spec.choices:
        data["choices"] = list(spec.choices)
    if spec.type == "str":
        data["max_length"] = spec.max_length
    if spec.type == "list":
        data["max_items"] = spec.max_items
        data["fields"] = [field_describe(f) for f in spec.fields]
    return data
