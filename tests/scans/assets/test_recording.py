"""The one recording service: items as the tools emit them become the domain → IP → service →
URL → certificate chain, a rescan records exactly what changed, gone assets are marked when the
next scan of the same scope no longer sees them, findings point at their asset, and nothing is
written per asset (the same on SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scans.assets.recording import assets_record
from scans.engine.runtime import FindingData
from scans.findings.storage import findings_store
from scans.models import Asset, AssetEvent, AssetLink, Finding, Scan, ScanAsset
from targets.items import Item
from tests.scans.assets.conftest import finish

pytestmark = pytest.mark.django_db

CERT = {
    "sha256": "ab" * 32, "subject": "CN=lab.outpost.test", "issuer": "CN=lab.outpost.test",
    "common_name": "lab.outpost.test", "dns_names": ["lab.outpost.test"], "ip_addresses": [],
    "not_before": "2026-01-01T00:00:00+00:00", "not_after": "2027-01-01T00:00:00+00:00",
    "key_type": "RSA", "key_bits": 2048, "is_self_signed": True,
}  # fmt: skip


def lab_items(title: str = "Lab home", closed: tuple[int, ...] = ()) -> list[Item]:
    """What dns_resolve, port_scan, http_probe and tls_inspect emit for a small lab."""
    items = [
        Item("host", "127.0.0.1", {"resolved_from": "lab.outpost.test", "record": "A"}),
        *[Item.service("127.0.0.1", port, "tcp", address="127.0.0.1") for port in (8080, 8081, 8443) if port not in closed],
        Item("url", "http://127.0.0.1:8080/", {"status": 200, "title": title, "server": "nginx/1.25.3",
             "content_type": "text/html", "technologies": [{"name": "nginx", "version": "1.25.3", "category": "web server"}]}),
        Item("url", "https://127.0.0.1:8443/", {"status": 301, "title": "", "redirect_to": "https://127.0.0.1:8443/login"}),
        Item.service("127.0.0.1", 8443, "tcp", tls={"protocol": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "certificate": CERT}),
    ]  # fmt: skip
    if 8081 not in closed:
        items.append(Item("url", "http://127.0.0.1:8081/", {"status": 200, "title": "Admin"}))
    return items


def asset(kind: str, value: str) -> Asset:
    return Asset.objects.get(kind=kind, value=value)


def test_it_records_the_chain_from_domain_to_certificate(make_scan: Callable[..., Scan]) -> None:
    scan = make_scan()
    recorded = assets_record(scan=scan, items=lab_items())

    domain, ip = asset("domain", "lab.outpost.test"), asset("ip", "127.0.0.1")
    assert AssetLink.objects.filter(source=domain, target=ip, relation="resolves_to").exists()
    assert domain.attrs["addresses"] == ["127.0.0.1"]
    services = Asset.objects.filter(kind="service", parent=ip)
    assert sorted(p or 0 for p in services.values_list("port", flat=True)) == [8080, 8081, 8443]
    web = asset("url", "http://127.0.0.1:8080/")
    assert web.parent == asset("service", "127.0.0.1:8080/tcp")
    assert (web.status_code, web.attrs["title"], web.attrs["server"]) == (
        200,
        "Lab home",
        "nginx/1.25.3",
    )
    tls = asset("service", "127.0.0.1:8443/tcp")
    cert = asset("certificate", "ab" * 32)
    assert tls.certificate == cert and tls.attrs["tls"] is True
    assert tls.attrs["tls_protocol"] == "TLSv1.3" and tls.attrs["certificate"] == "ab" * 32
    assert cert.attrs["subject"] == "CN=lab.outpost.test" and cert.attrs["dns_names"] == [
        "lab.outpost.test"
    ]
    nginx = asset("technology", "nginx")
    assert AssetLink.objects.filter(source=web, target=nginx, relation="runs").exists()
    assert web.attrs["technologies"] == [
        {"name": "nginx", "version": "1.25.3", "category": "web server"}
    ]
    assert all(
        a.first_scan_id == scan.pk and a.last_scan_id == scan.pk for a in Asset.objects.all()
    )
    assert set(ScanAsset.objects.filter(scan=scan).values_list("change", flat=True)) == {"new"}
    assert recorded.counts == {"new": Asset.objects.count()}
    assert not AssetEvent.objects.exists()  # first sightings are first_seen_at, not events


def test_a_rescan_records_exactly_what_changed_and_what_went(
    make_scan: Callable[..., Scan],
) -> None:
    first = make_scan()
    assets_record(scan=first, items=lab_items())
    finish(first)
    second = make_scan()
    assets_record(scan=second, items=lab_items(title="Lab home v2", closed=(8081,)))
    finish(second)

    changes = {
        (sa.kind, sa.asset.value): sa.change
        for sa in ScanAsset.objects.filter(scan=second)
        .exclude(change="seen")
        .select_related("asset")
    }
    assert changes == {
        ("url", "http://127.0.0.1:8080/"): "changed",
        ("service", "127.0.0.1:8081/tcp"): "gone",
        ("url", "http://127.0.0.1:8081/"): "gone",
    }
    event = AssetEvent.objects.get(kind="changed")
    assert event.asset.value == "http://127.0.0.1:8080/" and event.scan == second
    assert event.changes == {"title": ["Lab home", "Lab home v2"]}
    closed = asset("service", "127.0.0.1:8081/tcp")
    assert closed.is_gone and closed.last_scan == first
    assert AssetEvent.objects.filter(kind="gone", asset=closed, scan=second).exists()
    assert not asset("service", "127.0.0.1:8080/tcp").is_gone

    third = make_scan()  # the port is open again
    assets_record(scan=third, items=lab_items(title="Lab home v2"))
    finish(third)
    assert not asset("service", "127.0.0.1:8081/tcp").is_gone
    assert ScanAsset.objects.get(scan=third, asset=closed).change == "reappeared"
    assert set(ScanAsset.objects.filter(scan=third).exclude(asset__pk=closed.pk).exclude(
        asset__value="http://127.0.0.1:8081/").values_list("change", flat=True)) == {"seen"}  # fmt: skip


def test_a_scan_of_another_scope_does_not_make_assets_gone(make_scan: Callable[..., Scan]) -> None:
    finish_first = make_scan(key="scope-a")
    assets_record(scan=finish_first, items=lab_items())
    finish(finish_first)
    other = make_scan(key="scope-b")
    assets_record(scan=other, items=[Item("host", "10.0.0.1")])
    finish(other)
    assert not Asset.objects.filter(gone_at__isnull=False).exists()


def test_a_failed_scan_marks_nothing_gone(make_scan: Callable[..., Scan]) -> None:
    first = make_scan()
    assets_record(scan=first, items=lab_items())
    finish(first)
    failed = make_scan()
    assets_record(scan=failed, items=lab_items(closed=(8081,)))
    Scan.objects.filter(pk=failed.pk).update(status="failed")
    failed.refresh_from_db()
    from scans.assets.recording import scan_assets_conclude

    assert scan_assets_conclude(failed) == 0
    assert not Asset.objects.filter(gone_at__isnull=False).exists()


def test_two_steps_of_one_scan_keep_the_most_telling_change(make_scan: Callable[..., Scan]) -> None:
    first = make_scan()
    assets_record(scan=first, items=lab_items())
    finish(first)
    second = make_scan()
    assets_record(scan=second, items=[Item.service("127.0.0.1", 8080, "tcp")])
    assets_record(
        scan=second, items=[Item.service("127.0.0.1", 8080, "tcp", product="nginx", version="1.27")]
    )
    assets_record(
        scan=second, items=[Item.service("127.0.0.1", 8080, "tcp")]
    )  # seen again, unchanged
    sighting = ScanAsset.objects.get(scan=second, asset__value="127.0.0.1:8080/tcp")
    assert sighting.change == "changed"
    event = AssetEvent.objects.get(kind="changed")
    assert event.changes == {"product": [None, "nginx"], "version": [None, "1.27"]}


def test_an_asset_new_in_a_scan_stays_new_when_a_later_step_adds_to_it(
    make_scan: Callable[..., Scan],
) -> None:
    scan = make_scan()
    assets_record(scan=scan, items=[Item.service("127.0.0.1", 22, "tcp")])
    assets_record(
        scan=scan, items=[Item.service("127.0.0.1", 22, "tcp", product="OpenSSH", version="9.2")]
    )
    assert ScanAsset.objects.get(scan=scan, asset__value="127.0.0.1:22/tcp").change == "new"
    assert not AssetEvent.objects.exists()
    assert asset("service", "127.0.0.1:22/tcp").attrs["product"] == "OpenSSH"


def test_a_later_report_without_a_field_does_not_erase_it(make_scan: Callable[..., Scan]) -> None:
    scan = make_scan()
    assets_record(
        scan=scan, items=[Item("url", "http://127.0.0.1:8080/", {"status": 200, "title": "Home"})]
    )
    assets_record(
        scan=make_scan(), items=[Item("url", "http://127.0.0.1:8080/")]
    )  # nuclei's matched URL
    url = asset("url", "http://127.0.0.1:8080/")
    assert url.attrs["title"] == "Home" and url.status_code == 200
    assert not AssetEvent.objects.exists()


def test_findings_point_at_the_asset_they_are_about(make_scan: Callable[..., Scan]) -> None:
    scan = make_scan()
    findings = [
        FindingData(tool="http_probe", severity="low", title="No CSP", rule_id="csp",
                    location="http://127.0.0.1:8080/", item="http://127.0.0.1:8080/"),
        FindingData(tool="trivy", severity="high", title="CVE", rule_id="CVE-1", component="openssl",
                    location="nginx:1.25", item="docker.io/library/nginx:1.25"),
    ]  # fmt: skip
    recorded = assets_record(scan=scan, items=lab_items(), findings=findings)
    findings_store(scan=scan, step=None, findings=findings, asset_ids=recorded.item_assets)
    by_rule = {f.rule_id: f.asset for f in Finding.objects.select_related("asset")}
    assert by_rule["csp"] == asset("url", "http://127.0.0.1:8080/")
    assert by_rule["CVE-1"] == asset("image", "docker.io/library/nginx:1.25")


def test_out_of_scope_discoveries_are_kept_as_leads(
    make_scan: Callable[..., Scan], authorize: Callable[..., Any]
) -> None:
    authorize("lab.outpost.test")
    authorize("127.0.0.1")
    scan = make_scan()
    assets_record(scan=scan, items=[
        Item("host", "127.0.0.1", {"resolved_from": "lab.outpost.test", "record": "A"}),
        Item("host", "cdn.elsewhere.example", {"resolved_from": "lab.outpost.test", "record": "CNAME"}),
    ])  # fmt: skip
    assert asset("domain", "lab.outpost.test").in_scope
    assert asset("ip", "127.0.0.1").in_scope
    lead = asset("domain", "cdn.elsewhere.example")
    assert not lead.in_scope
    assert AssetLink.objects.filter(target=lead, relation="alias_of").exists()


def test_malformed_values_are_skipped_not_stored(make_scan: Callable[..., Scan]) -> None:
    recorded = assets_record(
        scan=make_scan(),
        items=[
            Item("host", "not a host!"),
            Item("service", "x:99999/tcp"),
            Item("url", "ftp://x/"),
        ],
    )
    assert recorded.skipped == 3 and not Asset.objects.exists()


def test_recording_thousands_of_urls_takes_a_constant_number_of_queries(
    make_scan: Callable[..., Scan],
) -> None:
    def urls(n: int) -> list[Item]:
        return [
            Item("url", f"http://10.{n % 250}.{i // 200}.{i % 200 + 1}:8080/p{i}", {"status": 200, "title": f"t{i}"})
            for i in range(n)
        ]  # fmt: skip

    counts = []
    for n in (1, 50, 3000):  # the first: the team's first sighting of hosts, services and URLs
        with CaptureQueriesContext(connection) as queries:
            assets_record(scan=make_scan(key=f"k{n}"), items=urls(n))
        counts.append(len(queries))
    if connection.vendor == "postgresql":
        # A first sighting skips the lookup of which assets exist (one probe per layer says
        # none of that kind does); after that, as many queries for 50 URLs as for 3,000.
        assert counts[0] < counts[1] == counts[2]
    else:  # the ORM path reads and writes in batches (SQLite takes 999 parameters a query)
        assert counts[2] < 3000 / 10
    assert Asset.objects.filter(kind="url").count() == 3051


def test_open_finding_counts_follow_the_scan_and_triage(
    make_scan: Callable[..., Scan], team: Any, user: Any
) -> None:
    from scans.findings.triage import finding_triage
    from scans.models import Finding
    from scans.tasks import open_findings_refresh

    scan = make_scan()
    findings = [
        FindingData(tool="http_probe", severity="low", title=f"No {h}", rule_id=h,
                    location="http://127.0.0.1:8080/", item="http://127.0.0.1:8080/")
        for h in ("csp", "hsts")
    ]  # fmt: skip
    recorded = assets_record(scan=scan, items=lab_items(), findings=findings)
    findings_store(scan=scan, step=None, findings=findings, asset_ids=recorded.item_assets)
    finish(scan)
    assert asset("url", "http://127.0.0.1:8080/").open_findings == 2
    fingerprint = Finding.objects.get(rule_id="csp").fingerprint
    finding_triage(
        team=team,
        fingerprints=[fingerprint],
        user=user,
        status="false_positive",
        comment="a test page",
    )
    open_findings_refresh(team.pk)  # the task triage queues
    assert asset("url", "http://127.0.0.1:8080/").open_findings == 1


def test_deleting_a_scan_deletes_its_sightings(make_scan: Callable[..., Scan]) -> None:
    # Sightings point at their scan without a database constraint (bulk writes): the delete
    # must still take them along.
    kept, deleted = make_scan(key="kept"), make_scan(key="deleted")
    assets_record(scan=kept, items=lab_items())
    assets_record(scan=deleted, items=lab_items())
    assert ScanAsset.objects.filter(scan=deleted).exists()
    deleted.delete()
    assert not ScanAsset.objects.filter(scan_id=deleted.pk).exists()
    assert ScanAsset.objects.filter(scan=kept).count() == Asset.objects.count()


def test_a_first_sighting_gets_distinct_ids_when_the_sequence_is_not_consecutive(
    require_postgres: None, make_scan: Callable[..., Scan]
) -> None:
    # Ids are drawn from the assets' sequence before the COPY; a run of consecutive ids comes
    # back as its two ends, anything else (here: a sequence that steps by 7) as every id.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('scans_asset', 'id')")
        sequence = cursor.fetchone()[0]
        cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY 7")
    try:
        recorded = assets_record(scan=make_scan(), items=lab_items())
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY 1")
    ids = sorted(Asset.objects.values_list("pk", flat=True))
    assert sorted(set(recorded.ids.values())) == ids and len(ids) == len(recorded.ids)
    assert {b - a for a, b in itertools.pairwise(ids)} == {7}
    web = asset("url", "http://127.0.0.1:8080/")
    assert web.parent is not None and web.parent.value == "127.0.0.1:8080/tcp"
