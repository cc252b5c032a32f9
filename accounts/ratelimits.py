"""Rate limits (django-ratelimit) on login, register, reset, token and scan submission.

Each attempt counts against the client IP and, where the request names one, the account, so
neither many accounts from one address nor one account from many addresses gets through.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from rest_framework import exceptions, status

from config.network import client_ip

log = structlog.get_logger(__name__)

# While the counters cannot be read (the cache is down), attempts are refused, not let through
# uncounted: a password-guessing window must not open because Redis restarted.
STORE_DOWN_WAIT_S = 30


class RateLimited(exceptions.APIException):
    """Raised by a service that counts its own attempts (scan submissions, invitations): a 429
    in the API, with `wait` as Retry-After; pages show the detail next to their form."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "throttled"

    def __init__(self, wait: int, what: str = "attempts") -> None:
        self.wait = wait
        after = f"{wait} s" if wait < 120 else f"{-(-wait // 60)} min"
        super().__init__(f"Too many {what}; retry in {after}.")


def rate_limit_check(request: HttpRequest | None, group: str, *, account: str, what: str) -> None:
    """Count one attempt of a person's request; raise RateLimited past the limit. `None` is the
    system acting on its own (a schedule), which is not counted."""
    if request is None:
        return
    wait = rate_limit_wait(request, group, account=account)
    if wait:
        raise RateLimited(wait, what)


def rate_limit_wait(request: HttpRequest, group: str, *, account: str | None = None) -> int | None:
    """Count one attempt; return the seconds to wait when a limit is exceeded, else None."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    rate = settings.RATE_LIMITS[group]
    keys = [f"ip:{client_ip(request) or 'unknown'}"]
    if account:
        keys.append(f"account:{account.strip().lower()[:254]}")
    wait: int | None = None
    for key in keys:
        try:
            usage = get_usage(
                request,
                group=f"outpost.{group}",
                key=lambda _group, _request, value=key: value,
                rate=rate,
                method=ALL,
                increment=True,
            )
        except Exception as exc:  # the cache backend's own errors (redis.ConnectionError, …)
            log.error("ratelimit.store_unreachable", group=group, error=type(exc).__name__)
            return STORE_DOWN_WAIT_S
        if usage and usage["should_limit"]:
            wait = max(wait or 0, int(usage["time_left"]) or 1)
    return wait
