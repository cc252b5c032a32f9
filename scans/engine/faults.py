"""Telling infrastructure faults from tool failures.

A step fails for its tool's reasons (a bad target, a crash, a timeout): those use the step's
attempts (`max_attempts`) and then fail it. The infrastructure the engine stands on can also be
briefly away: the database restarting ("server closed the connection unexpectedly"), the broker
(Redis) restarting, the Docker engine restarting. Those say nothing about the step, so the step
is queued again with backoff without using one of its attempts, up to `STEP_INFRA_RETRIES`
times (then it fails, naming the fault): a restart of any of them does not fail a scan.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests
from django.db import InterfaceError, OperationalError

_INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    OperationalError,  # connection lost or refused, server shutting down, deadlock, locked
    InterfaceError,  # "connection already closed" after the above
    requests.ConnectionError,  # the Docker SDK's socket to the engine
    requests.Timeout,
)
try:  # the Redis broker and cache, when installed
    import redis.exceptions

    _INFRASTRUCTURE += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
except ImportError:  # pragma: no cover - redis is a dependency, kept optional here
    pass


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_infrastructure_fault(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is the database, the broker or the Docker engine being
    unreachable, rather than anything about the step itself."""
    return any(isinstance(link, _INFRASTRUCTURE) for link in _chain(exc))
