"""Built-in recon tools: pure Python, run inside the worker, no container or host binary needed.

They make the embedded default (no Docker) able to scan. Each module here is a runner (see
`scans.runtime`) exporting:

    CONFIG_FIELDS  list of dicts describing its config (see scans.builtin.options.ConfigField)
    ACCEPTS        the item kinds it takes;  EMITS: the item kinds it produces
    commands(config, items) -> list[Command]   one "builtin:<name>" argv per input item
    run(ctx) -> StepResult                     executes exactly those argvs

The workflow node registry (workflows.nodes) imports them by the dotted paths below.
"""

from __future__ import annotations

BUILTIN_RUNNERS: dict[str, str] = {
    "port_scan": "scans.builtin.port_scan",
    "http_probe": "scans.builtin.http_probe",
    "dns_resolve": "scans.builtin.dns_resolve",
    "tls_inspect": "scans.builtin.tls_inspect",
    "secret_scan": "scans.builtin.secret_scan",
}
