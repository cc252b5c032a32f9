"""GET /metrics: Prometheus text, off until configured, token or network protected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import Team
from scans.models import Scan, ScanStep

TOKEN = "metrics-test-token-0123456789"


def scrape(client: Client, **headers: Any) -> dict[str, Any]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    return families


def sample(families: dict[str, Any], family: str, name: str, **labels: str) -> float:
    for s in families[family].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    return 0.0


@pytest.fixture
def metrics_on(settings: Any) -> Any:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_FLUSH_S = 0  # every request reaches the shared counters at once
    from config.prometheus import TALLY

    TALLY.flush()  # what earlier tests counted is not this test's
    return settings


def bearer(token: str = TOKEN) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.smoke
def test_metrics_are_off_until_a_token_or_network_is_configured(client: Client, db: None) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", **bearer()).status_code == 404


@pytest.mark.smoke
def test_it_refuses_a_missing_or_wrong_token(client: Client, db: None, metrics_on: Any) -> None:
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", **bearer("wrong")).status_code == 403
    assert client.get("/metrics", **bearer()).status_code == 200


def test_allowed_networks_admit_a_scrape_without_a_token(
    client: Client, db: None, settings: Any
) -> None:
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8", "10.20.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 403


def test_it_counts_requests_by_method_and_status_class_with_their_latency(
    client: Client, db: None, metrics_on: Any
) -> None:
    before = scrape(client, **bearer())
    client.get("/health")
    client.get("/no-such-page")
    client.get("/no-such-page")
    client.post("/api/v1/auth/token", data={}, content_type="application/json")
    after = scrape(client, **bearer())

    def delta(name: str, sample_name: str, **labels: str) -> float:
        return sample(after, name, sample_name, **labels) - sample(
            before, name, sample_name, **labels
        )

    requests = "outpost_http_requests"
    # + the first scrape itself (a 2xx GET), counted after it answered
    assert delta(requests, "outpost_http_requests_total", method="GET", code="4xx") == 2
    assert delta(requests, "outpost_http_requests_total", method="POST", code="4xx") == 1
    assert (
        delta(requests, "outpost_http_requests_total", method="GET", code="2xx")
        + delta(requests, "outpost_http_requests_total", method="GET", code="5xx")
        == 2
    )  # /health (200, or 503 without a worker) and the first scrape
    histogram = "outpost_http_request_duration_seconds"
    assert delta(histogram, f"{histogram}_count") == 5
    assert delta(histogram, f"{histogram}_bucket", le="+Inf") == 5
    assert delta(histogram, f"{histogram}_sum") > 0
    buckets = [s.value for s in after[histogram].samples if s.name.endswith("_bucket")]
    assert buckets == sorted(buckets), "histogram buckets are cumulative"


def test_it_reports_scans_by_status_and_step_durations(
    client: Client, team: Team, metrics_on: Any
) -> None:
    now = timezone.now()
    done = Scan.objects.create(team=team, status="completed", started_at=now, finished_at=now)
    Scan.objects.create(team=team, status="failed")
    Scan.objects.create(team=team, status="failed")
    for node_type, status, seconds in [
        ("metrics_probe", "completed", 2),
        ("metrics_probe", "completed", 40),
        ("metrics_probe", "failed", 700),
    ]:
        ScanStep.objects.create(
            scan=done, node_id=f"n{seconds}", node_type=node_type, status=status,
            started_at=now - timedelta(seconds=seconds), finished_at=now,
        )  # fmt: skip
    ScanStep.objects.create(scan=done, node_id="q", node_type="metrics_probe", status="queued")

    families = scrape(client, **bearer())
    assert (
        sample(families, "outpost_scans", "outpost_scans", status="failed")
        == Scan.objects.filter(status="failed").count()
    )
    assert sample(families, "outpost_scans", "outpost_scans", status="completed") >= 1
    assert sample(families, "outpost_scan_steps", "outpost_scan_steps", status="queued") >= 1
    hist = "outpost_scan_step_duration_seconds"
    ok = {"node_type": "metrics_probe", "status": "completed"}
    assert sample(families, hist, f"{hist}_bucket", le="1", **ok) == 0
    assert sample(families, hist, f"{hist}_bucket", le="5", **ok) == 1
    assert sample(families, hist, f"{hist}_bucket", le="60", **ok) == 2
    assert sample(families, hist, f"{hist}_count", **ok) == 2
    assert sample(families, hist, f"{hist}_sum", **ok) == pytest.approx(42, abs=0.01)
    failed = {"node_type": "metrics_probe", "status": "failed"}
    assert sample(families, hist, f"{hist}_bucket", le="600", **failed) == 0
    assert sample(families, hist, f"{hist}_bucket", le="1800", **failed) == 1


def test_it_reports_the_queue_depth_of_the_broker(
    client: Client, db: None, metrics_on: Any
) -> None:
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    async_task("math.floor", 1.5)  # harmless if a later test's worker runs it
    families = scrape(client, **bearer())
    depth = sample(families, "outpost_queue_depth", "outpost_queue_depth")
    assert depth >= 1
    assert depth <= get_broker().queue_size() + 1


@pytest.mark.slow
def test_it_reports_the_heartbeat_of_a_running_worker_cluster(
    client: Client, metrics_on: Any, worker: Any
) -> None:
    families = scrape(client, **bearer())
    assert sample(families, "outpost_worker_clusters", "outpost_worker_clusters") >= 1
    ages = [s.value for s in families["outpost_worker_heartbeat_age_seconds"].samples]
    assert ages and min(ages) < 10
    processes = [s.value for s in families["outpost_worker_processes"].samples]
    assert max(processes) >= 1
