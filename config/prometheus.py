"""`GET /metrics`: Prometheus text exposition (format 0.0.4) of requests, scans, steps, the queue
and worker heartbeats. Off (404) until METRICS_TOKEN or METRICS_ALLOWED_IPS is set; then a
scrape needs `Authorization: Bearer <METRICS_TOKEN>` or a client address in the allowed networks
(403 otherwise).

Where each figure comes from, computed per scrape, so every replica answers the same totals and
nothing depends on which process is scraped:
- requests: counted by `RequestMetricsMiddleware` in memory per process and added to shared
  cache counters (Redis INCR, or the atomic database cache) every METRICS_FLUSH_S seconds by a
  background thread. Writing per request would put every request in line for the same few
  counter rows on the database cache; per-process files (prometheus-client's multiprocess
  mode) would count one machine only. The price: up to METRICS_FLUSH_S of delay, and a killed
  process loses its last unflushed seconds.
- scans by status, step counts and durations: aggregate queries on the scan tables.
- queue depth: the django-q2 broker's `queue_size()`; worker heartbeats: django-q2's cluster
  stats, which each cluster refreshes every few seconds and which expire when it stops.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

import structlog
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.network import client_ip

log = structlog.get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER")
CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
REQUEST_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STEP_BUCKETS_S = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0)
KEY_PREFIX = "metrics:v1:"


def metrics_enabled() -> bool:
    return bool(settings.METRICS_TOKEN or settings.METRICS_ALLOWED_IPS)


# --- request counting ------------------------------------------------------------------------
def _count_key(method: str, code_class: str) -> str:
    return f"{KEY_PREFIX}http:{method}:{code_class}"


def _bucket_key(index: int) -> str:
    return f"{KEY_PREFIX}http_le:{index}"  # non-cumulative; index len(buckets) is +Inf


SUM_KEY = f"{KEY_PREFIX}http_sum_us"


class RequestTally:
    """This process's counts since its last flush, and the thread that flushes them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: Counter[str] = Counter()
        self.pid = 0
        self.last_flush = time.monotonic()

    def record(self, method: str, status: int, duration_s: float) -> None:
        method = method if method in METHODS else "OTHER"
        code_class = f"{min(max(status // 100, 1), 5)}xx"
        index = next(
            (i for i, b in enumerate(REQUEST_BUCKETS_S) if duration_s <= b), len(REQUEST_BUCKETS_S)
        )
        with self.lock:
            self._ensure_flusher()
            self.pending[_count_key(method, code_class)] += 1
            self.pending[_bucket_key(index)] += 1
            self.pending[SUM_KEY] += max(0, round(duration_s * 1_000_000))
        if settings.METRICS_FLUSH_S <= 0:
            self.flush()

    def _ensure_flusher(self) -> None:
        # One thread per process, started after gunicorn forks (the pid tells a forked child,
        # whose copy of the parent's pending counts is the parent's to flush).
        if self.pid == os.getpid():
            return
        self.pid = os.getpid()
        self.pending.clear()
        if settings.METRICS_FLUSH_S > 0:
            threading.Thread(target=self._flush_forever, name="metrics-flush", daemon=True).start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(settings.METRICS_FLUSH_S)
            self.flush()

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, Counter()
        for key, delta in batch.items():
            if not delta:
                continue
            try:
                _cache_add(key, delta)
            except Exception:
                # Metrics must never break serving; the figures are lost, the error is logged.
                log.warning("metrics.flush_failed", key=key, exc_info=True)
        self.last_flush = time.monotonic()


def _cache_add(key: str, delta: int) -> None:
    try:
        cache.incr(key, delta)
    except ValueError:
        cache.add(key, 0, timeout=None)  # the first process to get here creates it
        cache.incr(key, delta)


TALLY = RequestTally()


class RequestMetricsMiddleware:
    """Outermost middleware: times every request (pages, API, static) while metrics are on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not metrics_enabled():
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        TALLY.record(request.method or "OTHER", response.status_code, time.perf_counter() - started)
        return response


# --- exposition ------------------------------------------------------------------------------
def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return (
        repr(float(value))
        if isinstance(value, float) and not value.is_integer()
        else str(int(value))
    )


class Exposition:
    """Prometheus text format: HELP/TYPE once per family, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, **labels: object) -> None:
        rendered = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
        self.lines.append(
            f"{name}{{{rendered}}} {_number(value)}" if rendered else f"{name} {_number(value)}"
        )

    def histogram(
        self,
        name: str,
        buckets: Iterable[float],
        cumulative: list[int],
        total: float,
        **labels: object,
    ) -> None:
        for bound, count in zip([*buckets, float("inf")], cumulative, strict=True):
            self.sample(
                f"{name}_bucket",
                count,
                **labels,
                le=_number(bound) if bound != float("inf") else "+Inf",
            )
        self.sample(f"{name}_sum", total, **labels)
        self.sample(f"{name}_count", cumulative[-1], **labels)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _requests(out: Exposition) -> None:
    keys = [_count_key(m, c) for m in METHODS for c in CODE_CLASSES]
    bucket_keys = [_bucket_key(i) for i in range(len(REQUEST_BUCKETS_S) + 1)]
    values = cache.get_many([*keys, *bucket_keys, SUM_KEY])
    out.family(
        "outpost_http_requests_total",
        "counter",
        "HTTP requests served, by method and status class (all processes).",
    )
    for method in METHODS:
        for code_class in CODE_CLASSES:
            count = values.get(_count_key(method, code_class))
            if count:
                out.sample("outpost_http_requests_total", count, method=method, code=code_class)
    running = 0
    cumulative = []
    for key in bucket_keys:
        running += int(values.get(key) or 0)
        cumulative.append(running)
    out.family(
        "outpost_http_request_duration_seconds", "histogram", "Time to answer an HTTP request."
    )
    out.histogram(
        "outpost_http_request_duration_seconds",
        REQUEST_BUCKETS_S,
        cumulative,
        int(values.get(SUM_KEY) or 0) / 1_000_000,
    )


def _queue_and_workers(out: Exposition) -> None:
    from django_q.brokers import get_broker
    from django_q.status import Stat

    broker_kind = "redis" if settings.REDIS_URL else "orm"
    out.family("outpost_queue_depth", "gauge", "Tasks waiting in the django-q2 broker.")
    try:
        out.sample("outpost_queue_depth", get_broker().queue_size(), broker=broker_kind)
    except Exception:
        log.warning("metrics.queue_size_failed", exc_info=True)
    clusters = Stat.get_all()
    now = timezone.now()
    out.family(
        "outpost_worker_clusters",
        "gauge",
        "Worker clusters heart-beating now (their stats expire seconds after they stop).",
    )
    out.sample("outpost_worker_clusters", len(clusters))
    out.family(
        "outpost_worker_heartbeat_age_seconds",
        "gauge",
        "Seconds since each worker cluster last reported.",
    )
    for stat in clusters:
        age = max(0.0, (now - stat.timestamp).total_seconds())
        out.sample(
            "outpost_worker_heartbeat_age_seconds",
            round(age, 3),
            cluster=stat.cluster_id,
            host=stat.host,
            status=stat.status,
        )
    out.family("outpost_worker_processes", "gauge", "Worker processes of each cluster.")
    for stat in clusters:
        out.sample(
            "outpost_worker_processes", len(stat.workers), cluster=stat.cluster_id, host=stat.host
        )


def render_metrics() -> str:
    """The whole exposition; a collector that fails is skipped (and logged), the rest still answer."""
    out = Exposition()
    out.family("outpost_up", "gauge", "1 when this Outpost web process answers.")
    out.sample("outpost_up", 1)
    # The apps' own figures (scans by status, step durations) come from collectors they name in
    # settings.METRICS_COLLECTORS, loaded by path: config imports no app.
    collectors = [_requests, *(import_string(path) for path in settings.METRICS_COLLECTORS)]
    for collector in [*collectors, _queue_and_workers]:
        try:
            collector(out)
        except Exception:
            log.exception("metrics.collector_failed", collector=collector.__name__)
    return out.text()


# --- access ----------------------------------------------------------------------------------
def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if (
        token
        and header.startswith("Bearer ")
        and hmac.compare_digest(header[7:].strip().encode(), token.encode())
    ):
        return True
    address = client_ip(request)
    if address and settings.METRICS_ALLOWED_IPS:
        ip = ipaddress.ip_address(address)
        return any(
            ip in ipaddress.ip_network(cidr, strict=False) for cidr in settings.METRICS_ALLOWED_IPS
        )
    return False


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_enabled():
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    if not _allowed(request):
        return HttpResponse(
            "Forbidden: metrics need METRICS_TOKEN or an allowed address.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE)
