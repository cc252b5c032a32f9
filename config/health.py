"""`GET /health`: database, cache/broker and worker heartbeat; 200 when all are up, else 503.
It also names the deployment (config.deployment), so an operator can tell which installation
owns the tool containers labelled `outpost.deployment=<id>` on a shared Docker engine."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.deployment import deployment_id


def _database() -> dict[str, object]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _broker() -> dict[str, object]:
    kind = "redis" if settings.REDIS_URL else "orm"
    probe = f"health:{uuid.uuid4().hex}"
    try:
        cache.set(probe, "1", 10)
        ok = cache.get(probe) == "1"
        cache.delete(probe)
    except Exception as exc:
        return {"ok": False, "kind": kind, "error": type(exc).__name__}
    return {"ok": ok, "kind": kind}


def _workers() -> dict[str, object]:
    from django_q.status import Stat

    try:
        clusters = Stat.get_all()
    except Exception as exc:
        return {"ok": False, "clusters": 0, "error": type(exc).__name__}
    workers = sum(len(stat.workers) for stat in clusters)
    # A cluster that is starting (or stopping) has no worker processes yet: nothing would run.
    return {"ok": workers > 0, "clusters": len(clusters), "workers": workers}


def _deployment() -> str | None:
    try:
        return deployment_id()
    except Exception:  # the database is down: the "database" check says so
        return None


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "broker": _broker(), "workers": _workers()}
    # `?require=database,broker`: what decides the status (a web pod's readiness must not depend
    # on the workers, which restart on their own); every check is still reported.
    wanted = [name for name in request.GET.get("require", "").split(",") if name in checks]
    healthy = all(bool(checks[name]["ok"]) for name in (wanted or checks))
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "deployment": _deployment(), "checks": checks},
        status=200 if healthy else 503,
    )
