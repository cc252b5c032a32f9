"""Built-in recon tools: pure Python, run inside the worker, no container or host binary needed.

They make the embedded default (no Docker) able to scan. Each module here is a runner (see
`scans.engine.runtime`) exporting:

    CONFIG_FIELDS  list of dicts describing its config (see scans.tools.kit.options.ConfigField)
    ACCEPTS        the item kinds it takes;  EMITS: the item kinds it produces
    commands(config, items) -> list[Command]   one "builtin:<name>" argv per input item
    run(ctx) -> StepResult                     executes exactly those argvs

The workflow node registry (workflows.nodes) imports them by the dotted paths below.
"""

from __future__ import annotations

BUILTIN_RUNNERS: dict[str, str] = {
    "port_scan": "scans.tools.port_scan",
    "http_probe": "scans.tools.http_probe",
    "dns_resolve": "scans.tools.dns_resolve",
    "tls_inspect": "scans.tools.tls_inspect",
    "secret_scan": "scans.tools.secret_scan",
}
