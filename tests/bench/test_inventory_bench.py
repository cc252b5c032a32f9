"""The inventory at scale, on PostgreSQL.

1. Recording: one scan's 50,000 URLs on 10,000 services (with their host) through the recording
   service, against a raw COPY of the same asset rows into the same table in the same run (goal:
   at most 2x); then the same items again (a rescan of an unchanged surface).
2. Reading: 1,000,000 assets of one team (written with COPY), then the inventory list (API and
   page; default sort, a kind tab, a port filter, a technology filter, a page deep in the list)
   and an asset page (a service with hundreds of URLs), 40 requests each after a warm-up: p95 at
   most 100 ms, and the same number of SQL queries on page 1 and deep in the list.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \
     .venv/bin/python -m pytest tests/bench/test_inventory_bench.py -p no:cacheprovider -s -o addopts=""
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Team, User
from scans.assets.observe import observe
from scans.assets.recording import assets_record
from scans.models import Asset, AssetLink, Scan, ScanAsset, ScanStatus
from targets.items import Item
from tests.bench.test_findings_scale import _timed

SERVICES = 10_000
URLS = 50_000
TOTAL = 1_000_000
GOAL_RATIO = 2.0
ROUNDS = 3
P95_GOAL_MS = 100.0


def _items() -> list[Item]:
    """What port_scan and http_probe emit for 10,000 services on 2,500 hosts, 5 URLs each."""
    items = []
    for n in range(SERVICES):
        host = f"10.{n // 60000}.{(n // 250) % 240}.{n % 250 + 1}"
        port = 8000 + n % 4
        items.append(Item.service(host, port, "tcp", address=host))
        for p in range(URLS // SERVICES):
            items.append(
                Item(
                    "url",
                    f"http://{host}:{port}/app/{p}",
                    {"status": 200, "title": f"Page {p} of {host}", "server": "nginx/1.25.3",
                     "content_type": "text/html", "content_length": 1024 + p},
                )
            )  # fmt: skip
    return items


def _scan(team: Team, name: str) -> Scan:
    now = timezone.now()
    return Scan.objects.create(
        team=team, workflow_name=name, targets_key=name, status=ScanStatus.RUNNING,
        started_at=now,
    )  # fmt: skip


def _raw_copy(team: Team, items: list[Item]) -> float:
    """COPY of the same asset rows (kind, value, attrs, port, status code, seen times) straight
    into scans_asset: the floor any recording path stands on."""
    observed = observe(items)
    now = timezone.now()
    started = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY scans_asset (team_id, kind, value, attrs, port, status_code, in_scope, "
            "open_findings, first_seen_at, last_seen_at) FROM STDIN"
        ) as copy,
    ):
        for obs in observed.assets.values():
            copy.write_row(
                (team.pk, obs.kind, obs.value, json.dumps(obs.attrs), obs.port, obs.status_code,
                 True, 0, now, now)
            )  # fmt: skip
    return time.perf_counter() - started


@pytest.mark.timeout(1800)
def test_recording_a_scan_of_50000_urls_and_10000_services(
    require_postgres: None, transactional_db: None, make_user: Any
) -> None:
    items = _items()
    raw, recording, rescans = [], [], []
    load_before = os.getloadavg()[0]
    # Interleaved rounds, each into fresh teams; the best of each is compared (the machine is
    # shared: a round that another process slowed down says nothing about either path).
    for round_ in range(ROUNDS):
        teams = [
            Team.objects.get(personal_owner=make_user(f"bench{round_}-{i}@example.test"))
            for i in range(2)
        ]
        raw.append(_raw_copy(teams[0], items))
        started = time.perf_counter()
        recorded = assets_record(scan=_scan(teams[1], "first"), items=items)
        recording.append(time.perf_counter() - started)
        started = time.perf_counter()
        again = assets_record(scan=_scan(teams[1], "again"), items=items)
        rescans.append(time.perf_counter() - started)
        assets = Asset.objects.filter(team=teams[1]).count()
        assert recorded.counts == {"new": assets} and again.counts == {"seen": assets}
        assert ScanAsset.objects.filter(scan__team=teams[1]).count() == 2 * assets
    load = os.getloadavg()[0]
    baseline, first, rescan = min(raw), min(recording), min(rescans)
    ratio = first / baseline
    paired = ", ".join(f"{r / c:.2f}" for r, c in zip(recording, raw, strict=True))
    print(
        f"\n[bench] {URLS:,} URLs + {SERVICES:,} services ({assets:,} assets with their hosts), "
        f"best of {ROUNDS}: raw COPY {baseline:.2f} s, recording {first:.2f} s ({ratio:.2f}x), "
        f"the same again (unchanged) {rescan:.2f} s ({rescan / baseline:.2f}x); rounds: raw "
        f"{', '.join(f'{t:.2f}' for t in raw)}, recording {', '.join(f'{t:.2f}' for t in recording)}"
        f" (paired {paired}), again {', '.join(f'{t:.2f}' for t in rescans)}; load average "
        f"{load_before:.1f} before, {load:.1f} after (goal <= {GOAL_RATIO}x: "
        f"{'met' if ratio <= GOAL_RATIO else 'NOT met'})"
    )
    assert ratio <= GOAL_RATIO


@pytest.fixture
def million_assets(
    require_postgres: None, transactional_db: None, user: User, team: Team
) -> Iterator[dict[str, Any]]:
    """1,000,000 assets of one team: 16,000 hosts, 160,000 services, 800,395 URLs (one service
    has 400), 23,605 technologies linked to 1 URL in 19, with sightings of the last scan. COPY with the secondary
    indexes dropped and built again after, then VACUUM ANALYZE (as a restore would)."""
    scan = Scan.objects.create(team=team, workflow_name="bench", status=ScanStatus.COMPLETED)
    now = timezone.now()
    started = time.monotonic()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'scans_asset' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
        indexes = raw.fetchall()
        for name, _ in indexes:
            raw.execute(f'DROP INDEX "{name}"')
        raw.execute("SELECT nextval(pg_get_serial_sequence('scans_asset', 'id'))")
        first_id = raw.fetchone()[0] + 1
        with raw.copy(
            "COPY scans_asset (id, team_id, kind, value, attrs, parent_id, port, status_code, "
            "in_scope, open_findings, first_seen_at, last_seen_at, last_scan_id) FROM STDIN"
        ) as copy:
            for row in _million_rows(team.pk, first_id, scan.pk, now):
                copy.write_row(row)
        raw.execute(
            "SELECT setval(pg_get_serial_sequence('scans_asset', 'id'), %s)", [first_id + TOTAL]
        )
        for _, definition in indexes:
            raw.execute(definition)
        techs = first_id + TOTAL - 20_000
        raw.execute(
            "INSERT INTO scans_assetlink (team_id, source_id, target_id, relation, first_seen_at, "
            "last_seen_at) SELECT %s, a.id, %s + (a.id %% 20000), 'runs', now(), now() "
            "FROM scans_asset a WHERE a.team_id = %s AND a.kind = 'url' AND a.id %% 19 = 0",
            [team.pk, techs, team.pk],
        )
        raw.execute(
            "INSERT INTO scans_scanasset (scan_id, asset_id, kind, change) "
            "SELECT %s, id, kind, 'seen' FROM scans_asset WHERE team_id = %s",
            [scan.pk, team.pk],
        )
        for table in ("scans_asset", "scans_assetlink", "scans_scanasset"):
            raw.execute(f"VACUUM ANALYZE {table}")
    print(f"\n[bench] wrote {TOTAL:,} assets with COPY in {time.monotonic() - started:.1f} s")
    yield {"team": team, "user": user, "scan": scan}


def _million_rows(team_id: int, first_id: int, scan_id: int, now: Any) -> Iterator[tuple[Any, ...]]:
    from datetime import timedelta

    hosts, services_per_host, urls_per_service = 16_000, 10, 5
    next_id = first_id
    for h in range(hosts):
        host = f"10.{h // 62500}.{(h // 250) % 250}.{h % 250 + 1}"
        host_id = next_id
        seen = now - timedelta(minutes=h)
        yield (host_id, team_id, "ip", host, "{}", None, None, None, True, 0, seen, seen, scan_id)
        next_id += 1
        for s in range(services_per_host):
            port = 8000 + s
            service_id = next_id
            yield (service_id, team_id, "service", f"{host}:{port}/tcp",
                   '{"service": "http", "transport": "tcp"}', host_id, port, None, True,
                   int(s == 0), seen, seen, scan_id)  # fmt: skip
            next_id += 1
            # The very first service has 400 URLs: the asset page of a busy service.
            for u in range(400 if next_id == first_id + 2 else urls_per_service):
                status = (200, 301, 404, 403)[u % 4]
                yield (next_id, team_id, "url", f"http://{host}:{port}/p/{u}",
                       f'{{"status": {status}, "title": "page {u}"}}', service_id, port, status,
                       True, 0, seen, seen, scan_id)  # fmt: skip
                next_id += 1
    for t in range(TOTAL - (next_id - first_id)):
        yield (next_id, team_id, "technology", f"tech-{t}", f'{{"name": "tech-{t}"}}', None,
               None, None, True, 0, now, now, scan_id)  # fmt: skip
        next_id += 1


@pytest.mark.timeout(3600)
def test_the_inventory_list_and_an_asset_page_with_a_million_assets(
    million_assets: dict[str, Any], client: Any, api: Any, issue_key: Any
) -> None:
    team, user = million_assets["team"], million_assets["user"]
    assert Asset.objects.filter(team=team).count() == TOTAL
    key_client = api(issue_key(user, team).raw_key)
    client.force_login(user)
    deep: dict[str, str] = {}
    url = "/api/v1/assets?kind=url&page_size=50"
    for _ in range(200):  # 200 pages in: keyset pages cost what page 1 costs
        url = key_client.get(url).json()["next"]
    deep["url"] = url
    service = Asset.objects.filter(team=team, kind="service").order_by("id").first()
    assert service is not None and AssetLink.objects.filter(team=team).exists()

    def api_call(path: str) -> Any:
        def call() -> None:
            response = key_client.get(path)
            assert response.status_code == 200 and len(response.json()["results"]) == 50

        return call

    def page(path: str) -> Any:
        def call() -> None:
            assert client.get(path).status_code == 200

        return call

    figures = {
        "API /assets (all, last seen)": _timed(api_call("/api/v1/assets")),
        "API /assets?kind=url": _timed(api_call("/api/v1/assets?kind=url")),
        "API /assets?kind=url, 200 pages in": _timed(api_call(deep["url"])),
        "API /assets?port=8003": _timed(api_call("/api/v1/assets?port=8003")),
        "API /assets?status=404": _timed(api_call("/api/v1/assets?status=404")),
        "API /assets?technology=tech-5000": _timed(
            lambda: key_client.get("/api/v1/assets?technology=tech-5000").status_code
        ),
        "API /assets?has_findings=true": _timed(api_call("/api/v1/assets?has_findings=true")),
        "page /assets/?kind=service": _timed(page("/assets/?kind=service")),
        "page /assets/ 200 pages in": _timed(
            page(deep["url"].replace("/api/v1/assets", "/assets/"))
        ),
        f"API /assets/{{id}} (a service, {Asset.objects.filter(parent=service).count()} URLs)": _timed(
            lambda: key_client.get(f"/api/v1/assets/{service.pk}").status_code
        ),
        "page /assets/{id}/ (the same service)": _timed(page(f"/assets/{service.pk}/")),
    }
    print(
        f"\n[bench] {TOTAL:,} assets in PostgreSQL, 40 requests each (after a warm-up); load "
        f"average {os.getloadavg()[0]:.1f}"
    )
    for name, (median, p95, queries, sql) in figures.items():
        print(
            f"[bench] {name:48s} median {median:7.1f} ms  p95 {p95:7.1f} ms  "
            f"{queries} SQL queries ({sql:.1f} ms in SQL, median)"
        )
    assert figures["API /assets?kind=url"][2] == figures["API /assets?kind=url, 200 pages in"][2]
    assert figures["page /assets/?kind=service"][2] == figures["page /assets/ 200 pages in"][2]
    slow = {name: p95 for name, (_, p95, _, _) in figures.items() if p95 > P95_GOAL_MS}
    assert not slow, slow
