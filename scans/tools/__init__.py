"""Tools: one module per tool in this package, built in (`port_scan`, `http_probe`, …) or in a
container (`nmap`, `trivy`, …). Each module declares everything about its tool in
`NODE = Tool(...)` (see `scans.tools.kit.tool`) and is its own runner and report parser:

    CONFIG_FIELDS   the node's config schema (see scans.tools.kit.options)
    ACCEPTS, EMITS  item kinds
    commands(config, items) -> list[Command]   argv lists (+ the image for container tools)
    run(ctx) -> StepResult                     runs them (ctx.executor), parses the output
    parse(data, *, subject="") -> ParsedReport one report (container tools; see NODE.formats)

The workflow node registry (`workflows.nodes`, which finds modules in settings.NODE_PACKAGES)
lists them; the functions below are the tools' view of it. Shared pieces live in `kit/`
(options, arguments, running a plan of commands, report helpers, network code).

Adding a tool = writing one module here (mirror `nmap` for a container tool, `port_scan` for a
built-in one) and its tests; nothing else lists tools.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from django.conf import settings

from scans.tools.kit.tool import ReportFormat, Tool
from workflows.nodes import node_type, node_types


def tools() -> list[Tool]:
    """Every registered tool, in palette order (those only imported from included)."""
    return [node for node in node_types(imports_only=True) if isinstance(node, Tool)]


def tool_get(name: str) -> Tool:
    """The tool called `name`; KeyError names the known tools."""
    node = node_type(name)
    if not isinstance(node, Tool):
        known = ", ".join(sorted(tool.type for tool in tools()))
        raise KeyError(f"unknown tool {name!r} (known: {known})")
    return node


def tool_module(name: str) -> ModuleType:
    """The module of a tool (its runner and parsers)."""
    return importlib.import_module(tool_get(name).runner)


def importable_tools() -> list[Tool]:
    """Tools whose reports Outpost imports (they declare at least one format), in palette
    order."""
    return [tool for tool in tools() if tool.formats]


def report_formats() -> list[tuple[Tool, ReportFormat]]:
    """Every importable report format with its tool."""
    return [(tool, fmt) for tool in importable_tools() for fmt in tool.formats]


def report_parse(tool: Tool, report_format: ReportFormat, data: bytes, *, subject: str = "") -> Any:
    """Parse one report of `report_format` (its own parser, else its tool module's `parse`)."""
    parse = report_format.parse or tool_module(tool.type).parse
    return parse(data, subject=subject)


def tool_image(name: str) -> str:
    """The container image a tool runs in: `TOOL_IMAGE_<TOOL>` when the operator set it (tests
    point it at local images), else the tool's pinned upstream image."""
    return settings.TOOL_IMAGES.get(name) or tool_get(name).image


def tool_network(name: str) -> str:
    """The tool's Docker network mode: `TOOL_NETWORK_<TOOL>`, else the tool's own default."""
    return settings.TOOL_NETWORK.get(name) or tool_get(name).network
