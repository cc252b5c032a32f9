"""`condition`: continue only with what matches.

Findings match when their severity is at least `min_severity` (and, with a `ports` filter, when
their location names one of those ports). Items match when their kind is in `item_kinds` (all
kinds when empty) and, with a `ports` filter, when they carry one of those ports (services and
URLs; hosts have no port). The node *passes* when at least `min_count` findings match; then it
emits the matching items and findings. When it does not pass it emits nothing, so the steps
after it get empty input and the engine skips them. `min_count` 0 makes it a pure filter.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from scans.engine.runtime import (
    SEVERITIES,
    Command,
    FindingData,
    StepContext,
    StepResult,
    severity_at_least,
)
from targets.items import ITEM_KINDS, Item
from workflows.nodes.base import NodeType

MAX_PORT_TERMS = 100

CONFIG_FIELDS: list[dict[str, Any]] = [
    {"name": "min_severity", "type": "choice", "choices": list(reversed(SEVERITIES)), "default": "info",
     "help": "Findings at or above this severity match."},
    {"name": "min_count", "type": "int", "default": 1, "min": 0, "max": 100000,
     "help": "Continue only when at least this many findings match (0: always continue, as a filter)."},
    {"name": "item_kinds", "type": "str", "default": "", "max_length": 60,
     "validate": lambda text: parse_kinds(text),
     "help": "Item kinds to pass on, comma-separated (host, service, url, image, repo); empty: all."},
    {"name": "ports", "type": "str", "default": "", "max_length": 200,
     "validate": lambda text: parse_ports(text),
     "help": "Only items and findings on these ports, e.g. 80,443,8000-8100; empty: any port."},
]  # fmt: skip
ACCEPTS = set(ITEM_KINDS)
EMITS = set(ITEM_KINDS)

NODE = NodeType(
    type="condition",
    label="Condition",
    group="Logic",
    icon="filter",
    help="Continue only with findings and items that match: severity, count, kinds, ports.",
    order=10,
    passthrough=True,
    consumes_findings=True,
)

_PORT_SUFFIX = re.compile(r":(\d{1,5})(?:/[a-z]+)?$")


def parse_ports(text: str) -> set[int]:
    """'80,443,8000-8010' -> the set of ports; ValueError with a readable reason otherwise."""
    ports: set[int] = set()
    terms = [t.strip() for t in text.split(",") if t.strip()]
    if len(terms) > MAX_PORT_TERMS:
        raise ValueError(f"at most {MAX_PORT_TERMS} ports or ranges")
    for term in terms:
        low, _, high = term.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"{term!r} is not a port or a range like 8000-8100")
        first, last = int(low), int(high or low)
        if not (1 <= first <= last <= 65535):
            raise ValueError(f"{term!r} is outside 1-65535 or reversed")
        ports.update(range(first, last + 1))
    return ports


def parse_kinds(text: str) -> set[str]:
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    unknown = sorted(kinds - set(ITEM_KINDS))
    if unknown:
        raise ValueError(f"unknown item kind {', '.join(unknown)} (known: {', '.join(ITEM_KINDS)})")
    return kinds


def port_of_text(text: str) -> int | None:
    """The port a location names: 'host:8443', '[::1]:80/tcp', 'https://h/x' (443)."""
    if "://" in text:
        try:
            parts = urlsplit(text)
            return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return None
    match = _PORT_SUFFIX.search(text)
    return int(match.group(1)) if match else None


def port_of_item(item: Item) -> int | None:
    if item.kind == "service":
        port = item.attrs.get("port")
        return int(port) if isinstance(port, int) else port_of_text(item.value)
    if item.kind == "url":
        return port_of_text(item.value)
    return None


def select(
    config: dict[str, Any], items: list[Item], findings: list[FindingData]
) -> tuple[bool, list[Item], list[FindingData]]:
    """(passes, matching items, matching findings): the whole node, without a context."""
    ports = parse_ports(str(config.get("ports") or ""))
    kinds = parse_kinds(str(config.get("item_kinds") or ""))
    minimum = str(config.get("min_severity") or "info")
    min_count = int(config.get("min_count", 1))
    kept_items = [
        item for item in items
        if (not kinds or item.kind in kinds) and (not ports or port_of_item(item) in ports)
    ]  # fmt: skip
    kept_findings = [
        f for f in findings
        if severity_at_least(f.severity, minimum)
        and (not ports or port_of_text(f.location or f.item) in ports)
    ]  # fmt: skip
    passes = len(kept_findings) >= min_count
    return passes, kept_items, kept_findings


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    argv = ["logic:condition", "--min-severity", str(config.get("min_severity", "info")),
            "--min-count", str(config.get("min_count", 1))]  # fmt: skip
    if config.get("item_kinds"):
        argv += ["--item-kinds", str(config["item_kinds"])]
    if config.get("ports"):
        argv += ["--ports", str(config["ports"])]
    return [Command(argv=argv)]


def run(ctx: StepContext) -> StepResult:
    passes, items, findings = select(ctx.config, ctx.items, ctx.findings)
    if not passes:
        ctx.log(
            f"condition not met: {len(findings)} finding(s) at or above "
            f"{ctx.config.get('min_severity', 'info')}, {ctx.config.get('min_count', 1)} needed"
        )
        return StepResult()
    ctx.log(f"condition met: {len(findings)} finding(s), {len(items)} item(s) passed on")
    return StepResult(items=items, findings=findings)
