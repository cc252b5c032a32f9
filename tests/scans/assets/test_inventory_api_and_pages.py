"""The inventory's API and pages: the same filters, keyset pages that walk every asset once,
another team's assets are 404, bad input is 400 with the field, exports, and bulk "add as
target" / "exclude" through the targets import (viewers may not)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Role
from scans.assets.recording import assets_record
from scans.models import Asset, Scan
from targets.items import Item
from targets.models import Target
from tests.scans.assets.test_recording import lab_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab_scan(make_scan: Callable[..., Scan]) -> Scan:
    scan = make_scan()
    assets_record(
        scan=scan,
        items=[
            *lab_items(),
            *[Item("url", f"http://127.0.0.1:8080/p{i}", {"status": 404}) for i in range(120)],
        ],
    )
    return scan


def test_the_list_walks_every_asset_once_in_keyset_pages(owner_api: Any, lab_scan: Scan) -> None:
    seen: list[int] = []
    url: str | None = "/api/v1/assets?page_size=25"
    while url:
        body = owner_api.get(url).json()
        seen += [a["id"] for a in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == Asset.objects.count()
    # and back again
    back = owner_api.get("/api/v1/assets?page_size=25").json()
    second = owner_api.get(back["next"]).json()
    assert owner_api.get(second["previous"]).json()["results"] == back["results"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=service", {"127.0.0.1:8080/tcp", "127.0.0.1:8081/tcp", "127.0.0.1:8443/tcp"}),
        ("port=8443", {"127.0.0.1:8443/tcp", "https://127.0.0.1:8443/"}),
        ("status=301", {"https://127.0.0.1:8443/"}),
        ("technology=nginx", {"http://127.0.0.1:8080/"}),
        ("kind=domain&q=lab", {"lab.outpost.test"}),
        ("kind=url&q=8081", {"http://127.0.0.1:8081/"}),
    ],
)
def test_the_filters(owner_api: Any, lab_scan: Scan, query: str, expected: set[str]) -> None:
    body = owner_api.get(f"/api/v1/assets?{query}&page_size=500").json()
    assert {a["value"] for a in body["results"]} == expected


def test_bad_input_is_400_with_the_field(owner_api: Any, lab_scan: Scan) -> None:
    for query, field in [("kind=planet", "kind"), ("port=70000", "port"), ("cursor=zzz", "cursor"),
                         ("page_size=0", "page_size"), ("seen_since=yesterday", "seen_since")]:  # fmt: skip
        answer = owner_api.get(f"/api/v1/assets?{query}")
        assert answer.status_code == 400, query
        assert field in answer.json()["errors"], answer.json()
    assert owner_api.get(f"/api/v1/scans/{lab_scan.pk}/assets?change=lost").status_code == 400


def test_another_teams_assets_are_404(
    lab_scan: Scan,
    make_user: Callable[..., Any],
    issue_key: Callable[..., Any],
    api: Callable[..., Any],
) -> None:
    other = make_user("other@example.test")
    from accounts.models import Team

    their_api = api(issue_key(other, Team.objects.get(personal_owner=other)).raw_key)
    asset = Asset.objects.first()
    assert asset is not None
    assert their_api.get(f"/api/v1/assets/{asset.pk}").status_code == 404
    assert their_api.get(f"/api/v1/scans/{lab_scan.pk}/assets").status_code == 404
    assert their_api.get("/api/v1/assets").json()["results"] == []


def test_exports_stream_the_filtered_list(owner_api: Any, lab_scan: Scan) -> None:
    answer = owner_api.get("/api/v1/assets/export?kind=service&format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert {r["value"] for r in rows} == {
        "127.0.0.1:8080/tcp",
        "127.0.0.1:8081/tcp",
        "127.0.0.1:8443/tcp",
    }
    assert {r["parent"] for r in rows} == {"127.0.0.1"}
    answer = owner_api.get("/api/v1/assets/export?kind=certificate&format=json")
    [certificate] = json.loads(b"".join(answer.streaming_content))
    assert certificate["attrs"]["subject"] == "CN=lab.outpost.test"
    assert owner_api.get("/api/v1/assets/export?format=xml").status_code == 400


def test_assets_become_targets_or_exclusions(
    owner_api: Any, lab_scan: Scan, team: Any, make_member: Callable[..., Any],
    issue_key: Callable[..., Any], api: Callable[..., Any],
) -> None:  # fmt: skip
    ids = {a.value: a.pk for a in Asset.objects.all()}
    answer = owner_api.post(
        "/api/v1/assets/targets",
        {
            "ids": [ids["lab.outpost.test"], ids["127.0.0.1:8080/tcp"], ids["ab" * 32]],
            "action": "add",
        },
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["report"]["counts"]["added"] == 2
    assert body["skipped"] == [
        {"id": ids["ab" * 32], "value": "ab" * 32, "reason": "a certificate is not a target"}
    ]
    assert set(Target.objects.filter(team=team).values_list("kind", "value", "excluded")) == {
        ("domain", "lab.outpost.test", False), ("ip", "127.0.0.1", False),
    }  # fmt: skip
    excluded = owner_api.post(
        "/api/v1/assets/targets",
        {"ids": [ids["http://127.0.0.1:8081/"]], "action": "exclude"},
        format="json",
    ).json()
    assert excluded["report"]["counts"]["added"] == 1
    assert Target.objects.get(team=team, value="http://127.0.0.1:8081/").excluded
    viewer = make_member(team, Role.VIEWER)
    refused = api(issue_key(viewer, team).raw_key).post(
        "/api/v1/assets/targets", {"ids": [ids["lab.outpost.test"]], "action": "add"}, format="json"
    )
    assert refused.status_code == 403
    assert (
        owner_api.post(
            "/api/v1/assets/targets", {"ids": [], "action": "add"}, format="json"
        ).status_code
        == 400
    )


def test_the_pages_show_the_inventory_an_asset_and_the_scan_panel(
    client: Any, user: Any, lab_scan: Scan
) -> None:
    client.force_login(user)
    page = client.get("/assets/?kind=service")
    assert page.status_code == 200
    assert b"127.0.0.1:8443/tcp" in page.content and b"lab.outpost.test" not in page.content
    service = Asset.objects.get(value="127.0.0.1:8443/tcp")
    detail = client.get(f"/assets/{service.pk}/").content.decode()
    assert (
        "https://127.0.0.1:8443/" in detail and "lab.outpost.test" in detail
    )  # child, certificate
    url = Asset.objects.filter(kind="url", status_code__isnull=False).first()
    assert url is not None
    url_page = client.get(f"/assets/{url.pk}/").content.decode()
    assert url_page.count("<dt>Status</dt>") == 1  # the column, not the attr again
    panel = client.get(f"/scans/{lab_scan.pk}/assets").content.decode()
    assert "This scan saw" in panel and "+3 services" in panel
    assert client.get("/assets/?cursor=bogus").status_code == 200  # a stale link: the first page
    assert client.get("/assets/999999/").status_code == 404
    posted = client.post("/assets/targets", {"ids": [service.pk], "action": "add"}, follow=True)
    assert posted.status_code == 200 and b"1 target added" in posted.content


def test_listed_assets_read_as_drf_writes_them(lab_scan: Scan) -> None:
    # The inventory's serializers write rows from a plan (config.serializers.ListedRowsMixin).
    from rest_framework import serializers

    from scans.assets.api import AssetBriefSerializer, AssetSerializer

    Asset.objects.filter(kind="service").update(gone_at=lab_scan.created_at)
    rows = list(Asset.objects.order_by("pk"))
    assert any(a.parent_id for a in rows) and any(a.certificate_id for a in rows)
    for serializer_class in (AssetSerializer, AssetBriefSerializer):
        listed = serializer_class(rows, many=True).data
        child = serializer_class()
        assert listed == [serializers.ModelSerializer.to_representation(child, a) for a in rows]
    assert {r["state"] for r in AssetSerializer(rows, many=True).data} == {"live", "gone"}
