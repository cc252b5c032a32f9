"""The admin goes through the same services: parsed, de-duplicated, audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, Team, User
from targets.models import Target
from targets.services import target_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(make_user: Callable[..., User]) -> Client:
    staff = make_user("operator@example.test")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    return client


def test_the_changelist_filters_by_kind_exclusion_and_authorization(
    staff_client: Client, team: Team, user: User
) -> None:
    target_create(team=team, user=user, value="example.com")
    target_create(team=team, user=user, value="admin.example.com", excluded=True)
    target_create(
        team=team, user=user, value="10.0.0.0/8", expires_at=timezone.now() + timedelta(days=2)
    )
    assert staff_client.get("/admin/targets/target/").status_code == 200
    expiring = staff_client.get("/admin/targets/target/?authorization=expiring").content.decode()
    assert "10.0.0.0/8" in expiring and "admin.example.com" not in expiring
    excluded = staff_client.get("/admin/targets/target/?excluded__exact=1").content.decode()
    assert "admin.example.com" in excluded and ">example.com<" not in excluded
    assert (
        "10.0.0.0/8" in staff_client.get("/admin/targets/target/?kind__exact=cidr").content.decode()
    )


def test_adding_in_the_admin_parses_refuses_duplicates_and_audits(
    staff_client: Client, team: Team, user: User
) -> None:
    answer = staff_client.post(
        "/admin/targets/target/add/",
        {"team": team.pk, "value": "*.Example.COM", "kind": "", "note": "via admin"},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    target = Target.objects.get(team=team)
    assert (target.kind, target.value) == ("domain", "*.example.com")
    assert (
        target.authorized_by is not None and target.authorized_by.email == "operator@example.test"
    )
    assert AuditEvent.objects.filter(action="target.created", team=team).exists()
    again = staff_client.post(
        "/admin/targets/target/add/", {"team": team.pk, "value": "*.example.com", "kind": ""}
    )
    assert again.status_code == 200 and "Already in this team" in again.content.decode()
    bad = staff_client.post(
        "/admin/targets/target/add/", {"team": team.pk, "value": "10.0.0.0/33", "kind": ""}
    )
    assert "prefix length must be 0\u201332" in bad.content.decode()
    assert Target.objects.filter(team=team).count() == 1


def test_deleting_in_the_admin_is_audited(staff_client: Client, team: Team, user: User) -> None:
    target = target_create(team=team, user=user, value="example.com")
    answer = staff_client.post(f"/admin/targets/target/{target.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert AuditEvent.objects.get(action="target.deleted").detail["value"] == "example.com"


def test_changing_in_the_admin_goes_through_target_update(
    staff_client: Client, team: Team, user: User
) -> None:
    target = target_create(team=team, user=user, value="example.com")
    assert staff_client.get(f"/admin/targets/target/{target.pk}/change/").status_code == 200
    answer = staff_client.post(
        f"/admin/targets/target/{target.pk}/change/",
        {"value": "www.example.com", "kind": "domain", "note": "moved"},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    target.refresh_from_db()
    assert (target.value, target.note, target.team) == ("www.example.com", "moved", team)
    event = AuditEvent.objects.get(action="target.updated")
    assert event.detail["changes"]["value"] == ["example.com", "www.example.com"]
