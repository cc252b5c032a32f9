"""django-q2 task entry points. Tasks get ids, never objects."""

from __future__ import annotations


def step_run(step_id: int) -> str:
    from scans.engine.step import step_run as run

    return run(step_id)


def reap() -> str:
    from scans.engine.reaper import reap_stale_steps

    return reap_stale_steps()
