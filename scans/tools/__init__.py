"""Containerized tool adapters: one module per tool, listed in ADAPTERS (tool -> dotted path) and
imported lazily. Each module is a runner in the sense of `scans.engine.runtime` and also reads its
tool's reports for imports:

    CONFIG_FIELDS   the node's config schema (see scans.tools.kit.options)
    ACCEPTS, EMITS  item kinds
    commands(config, items) -> list[Command]   argv lists + the image from settings.TOOL_IMAGES
    run(ctx) -> StepResult                     runs them with ctx.executor, parses the reports
    parse(data, *, subject="") -> ParsedReport findings + discovered items from one report

Shared pieces: `report` (ParsedReport, severity mappings, stable paths, dedup, masking),
`arguments` (items → validated tool arguments), `invoke` (running a plan of commands).
Adding a tool = one module here, one line below, its parser tests, and its node type in
workflows/nodes/.
"""

from __future__ import annotations

import importlib
from types import ModuleType

ADAPTERS: dict[str, str] = {
    "nmap": "scans.tools.nmap",
    "trivy": "scans.tools.trivy",
    "grype": "scans.tools.grype",
    "gitleaks": "scans.tools.gitleaks",
    "nuclei": "scans.tools.nuclei",
}


def get_adapter(name: str) -> ModuleType:
    """The adapter module of a tool; KeyError names the known tools."""
    try:
        path = ADAPTERS[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r} (known: {', '.join(sorted(ADAPTERS))})") from None
    return importlib.import_module(path)
