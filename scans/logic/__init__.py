"""Logic nodes: pure functions of a step's input items and findings (no tool, no network).

Each module is a runner in the sense of `scans.engine.runtime`: CONFIG_FIELDS, ACCEPTS, EMITS,
`commands(config, items)` and `run(ctx)`. A field may carry a `validate` callable (raises
ValueError); `config_problems(config) -> {field: problem}` checks what spans fields. The
registry runs both when a graph is saved.
"""
