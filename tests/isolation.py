"""Loaded before pytest-django reads the settings (`-p tests.isolation` in pytest's addopts): a
test run gets its own django-q2 cluster name (its Redis queue and cache prefix) and its own
artifacts folder, inherited by the worker processes it starts.

Test databases are already per run (config.settings names them by pid). Without this, two runs
on one machine with REDIS_URL share one queue, and one run's worker takes the other's steps (or
a `make run` worker does); scan ids start at 1 in every test database, so deleting scan 3 in
one run removed another run's `scan-3` artifact folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

RUN_ID = f"test-{os.getpid()}"
os.environ.setdefault("Q_CLUSTER_NAME", f"outpost-{RUN_ID}")
_ARTIFACTS: Path | None = None
if "OUTPOST_ARTIFACTS_DIR" not in os.environ:
    _ARTIFACTS = Path(__file__).resolve().parents[1] / "var" / f"artifacts-{RUN_ID}"
    os.environ["OUTPOST_ARTIFACTS_DIR"] = str(_ARTIFACTS)


def pytest_unconfigure() -> None:
    if _ARTIFACTS is not None:
        shutil.rmtree(_ARTIFACTS, ignore_errors=True)
