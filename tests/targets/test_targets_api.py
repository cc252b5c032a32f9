"""The targets API: CRUD, filters, duplicates, roles, other teams, bulk import and scope checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Team, User
from targets.models import Target
from targets.services import target_create

pytestmark = pytest.mark.django_db


@pytest.mark.smoke
def test_it_creates_a_target_and_detects_its_kind(owner_api: APIClient, user: User) -> None:
    answer = owner_api.post(
        "/api/v1/targets", {"value": "  *.Example.COM ", "note": "SOW-42"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["kind"], body["value"], body["raw_value"]) == (
        "domain",
        "*.example.com",
        "*.Example.COM",
    )
    assert (
        body["authorized_by"] == user.email
        and body["state"] == "active"
        and body["note"] == "SOW-42"
    )
    assert owner_api.get(f"/api/v1/targets/{body['id']}").json()["value"] == "*.example.com"


def test_it_refuses_a_bad_value_with_the_parse_error(owner_api: APIClient) -> None:
    answer = owner_api.post("/api/v1/targets", {"value": "10.0.0.0/33"}, format="json")
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "`10.0.0.0/33`: prefix length must be 0\u201332",
        "errors": {"value": ["`10.0.0.0/33`: prefix length must be 0\u201332"]},
    }


def test_it_refuses_a_duplicate_naming_the_existing_target(
    owner_api: APIClient, team: Team, user: User
) -> None:
    first = target_create(team=team, user=user, value="example.com")
    answer = owner_api.post("/api/v1/targets", {"value": "EXAMPLE.com."}, format="json")
    assert answer.status_code == 400
    assert (
        answer.json()["detail"]
        == f"`example.com` is already in this team's scope as target #{first.pk}; edit that one instead."
    )
    excluded = owner_api.post(
        "/api/v1/targets", {"value": "example.com", "excluded": True}, format="json"
    )
    assert excluded.status_code == 400 and f"#{first.pk}" in excluded.json()["detail"]
    assert Target.objects.filter(team=team).count() == 1


def test_unknown_fields_and_put_are_refused(owner_api: APIClient, team: Team, user: User) -> None:
    answer = owner_api.post(
        "/api/v1/targets", {"value": "example.com", "scope": "all"}, format="json"
    )
    assert answer.status_code == 400 and answer.json()["errors"] == {"scope": ["Unknown field."]}
    target = target_create(team=team, user=user, value="example.com")
    assert (
        owner_api.patch(f"/api/v1/targets/{target.pk}", {"team": 9}, format="json").status_code
        == 400
    )
    assert (
        owner_api.put(
            f"/api/v1/targets/{target.pk}", {"value": "a.test"}, format="json"
        ).status_code
        == 405
    )


def test_it_lists_with_kind_excluded_and_search_filters_and_pages(
    owner_api: APIClient, team: Team, user: User
) -> None:
    for n in range(60):
        target_create(team=team, user=user, value=f"host{n:02d}.example.com")
    target_create(team=team, user=user, value="10.0.0.0/8", note="datacenter")
    target_create(team=team, user=user, value="admin.example.com", excluded=True)
    page = owner_api.get("/api/v1/targets").json()
    assert page["count"] == 62 and len(page["results"]) == 50 and page["next"]
    assert page["results"][0]["value"] == "10.0.0.0/8"  # ordered by kind, then value
    assert (
        owner_api.get("/api/v1/targets?page=2").json()["results"][-1]["value"]
        == "host59.example.com"
    )
    assert [t["value"] for t in owner_api.get("/api/v1/targets?kind=cidr").json()["results"]] == [
        "10.0.0.0/8"
    ]
    assert [
        t["value"] for t in owner_api.get("/api/v1/targets?excluded=true").json()["results"]
    ] == ["admin.example.com"]
    assert [
        t["value"] for t in owner_api.get("/api/v1/targets?search=DATACENTER").json()["results"]
    ] == ["10.0.0.0/8"]
    assert owner_api.get("/api/v1/targets?search=host0").json()["count"] == 10
    assert owner_api.get("/api/v1/targets?kind=planet").status_code == 400
    assert owner_api.get("/api/v1/targets?excluded=maybe").status_code == 400


def test_patch_changes_only_what_is_given_and_is_audited(
    owner_api: APIClient, team: Team, user: User
) -> None:
    target = target_create(team=team, user=user, value="example.com", note="old")
    until = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    answer = owner_api.patch(
        f"/api/v1/targets/{target.pk}",
        {"note": "SOW-7", "expires_at": until.isoformat()},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    target.refresh_from_db()
    assert (target.value, target.note, target.expires_at) == ("example.com", "SOW-7", until)
    event = AuditEvent.objects.get(action="target.updated")
    assert event.team == team and event.user == user
    assert event.detail["changes"]["note"] == ["old", "SOW-7"]
    renamed = owner_api.patch(
        f"/api/v1/targets/{target.pk}", {"value": "www.example.com"}, format="json"
    ).json()
    assert renamed["value"] == "www.example.com" and renamed["kind"] == "domain"
    assert (
        owner_api.patch(
            f"/api/v1/targets/{target.pk}", {"value": "10.0.0.1"}, format="json"
        ).status_code
        == 400
    )
    assert (
        owner_api.patch(
            f"/api/v1/targets/{target.pk}", {"value": "10.0.0.1", "kind": "ip"}, format="json"
        ).json()["kind"]
        == "ip"
    )


def test_an_exclusion_cannot_expire_and_a_past_expiry_is_refused(owner_api: APIClient) -> None:
    soon = (timezone.now() + timedelta(days=1)).isoformat()
    past = (timezone.now() - timedelta(days=1)).isoformat()
    excluded = owner_api.post(
        "/api/v1/targets", {"value": "a.test", "excluded": True, "expires_at": soon}, format="json"
    )
    assert excluded.status_code == 400 and "an exclusion cannot expire" in excluded.json()["detail"]
    assert (
        "is in the past"
        in owner_api.post(
            "/api/v1/targets", {"value": "a.test", "expires_at": past}, format="json"
        ).json()["detail"]
    )


def test_delete_removes_and_audits(owner_api: APIClient, team: Team, user: User) -> None:
    target = target_create(team=team, user=user, value="example.com")
    assert owner_api.delete(f"/api/v1/targets/{target.pk}").status_code == 204
    assert not Target.objects.filter(pk=target.pk).exists()
    event = AuditEvent.objects.get(action="target.deleted")
    assert event.detail["value"] == "example.com" and event.detail["id"] == target.pk


def test_another_teams_target_is_a_404_for_every_method(
    owner_api: APIClient, other_team: Team, other_user: User
) -> None:
    theirs = target_create(team=other_team, user=other_user, value="their.example")
    url = f"/api/v1/targets/{theirs.pk}"
    assert owner_api.get(url).status_code == 404
    assert owner_api.patch(url, {"note": "x"}, format="json").status_code == 404
    assert owner_api.delete(url).status_code == 404
    assert owner_api.get("/api/v1/targets").json()["count"] == 0
    assert Target.objects.get(pk=theirs.pk).note == ""


def test_viewers_read_and_check_but_cannot_write(
    viewer_api: APIClient, team: Team, user: User
) -> None:
    target = target_create(team=team, user=user, value="example.com")
    assert viewer_api.get("/api/v1/targets").json()["count"] == 1
    assert viewer_api.post("/api/v1/targets", {"value": "a.test"}, format="json").status_code == 403
    assert (
        viewer_api.patch(f"/api/v1/targets/{target.pk}", {"note": "x"}, format="json").status_code
        == 403
    )
    assert viewer_api.delete(f"/api/v1/targets/{target.pk}").status_code == 403
    assert (
        viewer_api.post("/api/v1/targets/bulk", {"text": "a.test"}, format="json").status_code
        == 403
    )
    assert (
        viewer_api.post(
            "/api/v1/targets/check", {"items": ["example.com"]}, format="json"
        ).status_code
        == 200
    )


def test_unauthenticated_requests_get_401(api: object) -> None:
    assert APIClient().get("/api/v1/targets").status_code == 401


def test_bulk_previews_then_imports_with_the_same_per_line_report(
    owner_api: APIClient, team: Team, user: User
) -> None:
    existing = target_create(team=team, user=user, value="example.com")
    text = "# scope for SOW-9\nexample.com\nwww.example.com  # the shop\n10.0.0.0/33\n!admin.example.com\nwww.example.com\n"
    preview = owner_api.post("/api/v1/targets/bulk", {"text": text, "commit": False}, format="json")
    assert preview.status_code == 200
    report = preview.json()
    assert report["committed"] is False and report["counts"] == {
        "added": 2,
        "duplicate": 2,
        "error": 1,
        "total": 5,
    }
    assert [(ln["line"], ln["status"]) for ln in report["lines"]] == [
        (2, "duplicate"),
        (3, "added"),
        (4, "error"),
        (5, "added"),
        (6, "duplicate"),
    ]
    assert report["lines"][0]["reason"] == f"already in scope as target #{existing.pk}"
    assert report["lines"][2]["reason"] == "`10.0.0.0/33`: prefix length must be 0\u201332"
    assert report["lines"][4]["reason"] == "same as line 3"
    assert Target.objects.filter(team=team).count() == 1

    refused = owner_api.post("/api/v1/targets/bulk", {"text": text}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "line 4": ["`10.0.0.0/33`: prefix length must be 0\u201332"]
    }
    assert Target.objects.filter(team=team).count() == 1

    done = owner_api.post(
        "/api/v1/targets/bulk", {"text": text, "mode": "valid_only"}, format="json"
    )
    assert done.status_code == 201
    body = done.json()
    assert body["committed"] is True and body["counts"]["added"] == 2
    shop = Target.objects.get(team=team, value="www.example.com")
    assert shop.note == "the shop" and body["lines"][1]["target_id"] == shop.pk
    assert Target.objects.get(team=team, value="admin.example.com").excluded


def test_bulk_takes_rows_and_csv(owner_api: APIClient, team: Team) -> None:
    rows = [
        {"value": "nginx", "kind": "image"},
        {"value": "10.0.0.0/24", "note": "lab", "expires_at": "2099-12-31"},
        {"value": "b.test", "excluded": True},
    ]
    answer = owner_api.post("/api/v1/targets/bulk", {"rows": rows}, format="json")
    assert answer.status_code == 201, answer.content
    lab = Target.objects.get(team=team, value="10.0.0.0/24")
    assert lab.expires_at is not None and lab.expires_at.isoformat() == "2100-01-01T00:00:00+00:00"
    csv_answer = owner_api.post(
        "/api/v1/targets/bulk", {"csv": "c.test,domain,ticket 1,\nd.test,,,\n"}, format="json"
    )
    assert csv_answer.json()["counts"]["added"] == 2
    assert (
        owner_api.post(
            "/api/v1/targets/bulk", {"text": "a.test", "csv": "b.test"}, format="json"
        ).status_code
        == 400
    )
    bad_row = owner_api.post(
        "/api/v1/targets/bulk", {"rows": [{"value": "a.test", "color": "red"}]}, format="json"
    )
    assert bad_row.status_code == 400


def test_bulk_over_ten_thousand_lines_is_413(owner_api: APIClient, team: Team) -> None:
    text = "\n".join(f"h{n}.test" for n in range(10_001))
    answer = owner_api.post("/api/v1/targets/bulk", {"text": text, "commit": False}, format="json")
    assert answer.status_code == 413
    assert "at most 10,000" in answer.json()["detail"]


@pytest.mark.smoke
def test_check_gives_a_verdict_and_reason_per_item(
    owner_api: APIClient, team: Team, user: User
) -> None:
    wildcard = target_create(team=team, user=user, value="*.example.com")
    admin = target_create(team=team, user=user, value="admin.example.com", excluded=True)
    image = target_create(team=team, user=user, value="ghcr.io/org/*")
    items = [
        "api.example.com", "admin.example.com", "evil.test", "10.0.0.1:443/tcp", "https://x.example.com/a",
        {"kind": "image", "value": "ghcr.io/org/app:1"}, "10.0.0.0/8", "$(id)",
    ]  # fmt: skip
    answer = owner_api.post("/api/v1/targets/check", {"items": items}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["in_scope"], body["out_of_scope"]) == (3, 5)
    verdicts = [(r["kind"], r["in_scope"], r["target_id"]) for r in body["results"]]
    assert verdicts == [
        ("host", True, wildcard.pk), ("host", False, admin.pk), ("host", False, None), ("service", False, None),
        ("url", True, wildcard.pk), ("image", True, image.pk), ("unknown", False, None), ("unknown", False, None),
    ]  # fmt: skip
    assert body["results"][1]["reason"] == f"excluded by #{admin.pk} admin.example.com"
    assert body["results"][2]["reason"] == "no target covers host evil.test"
    assert "a CIDR range is not an item" in body["results"][6]["reason"]


def test_check_validates_its_input(owner_api: APIClient) -> None:
    assert owner_api.post("/api/v1/targets/check", {"items": []}, format="json").status_code == 400
    assert (
        owner_api.post(
            "/api/v1/targets/check", {"items": [{"kind": "planet", "value": "x"}]}, format="json"
        ).status_code
        == 400
    )
    assert (
        owner_api.post(
            "/api/v1/targets/check",
            {"items": [{"kind": "host", "value": "x", "y": 1}]},
            format="json",
        ).status_code
        == 400
    )
    assert owner_api.post("/api/v1/targets/check", {"items": [1]}, format="json").status_code == 400
    too_many = owner_api.post(
        "/api/v1/targets/check", {"items": ["a.test"] * 10_001}, format="json"
    )
    assert too_many.status_code == 400


def test_the_openapi_schema_documents_every_targets_endpoint(owner_api: APIClient) -> None:
    schema = owner_api.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/targets"]) >= {"get", "post"}
    assert set(paths["/api/v1/targets/{id}"]) >= {"get", "patch", "delete"}
    assert "put" not in paths["/api/v1/targets/{id}"]
    assert "post" in paths["/api/v1/targets/bulk"] and "post" in paths["/api/v1/targets/check"]
    assert paths["/api/v1/targets/{id}"]["get"]["parameters"][0]["schema"]["type"] == "integer"
