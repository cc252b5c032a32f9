from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AuditEvent, Team, User
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user) -> Client:  # type: ignore[no-untyped-def]
    staff: User = make_user("ops@example.test")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    return client


def test_the_admin_lists_searches_and_shows_the_graph_readably(
    admin_client: Client, workflow: Workflow
) -> None:
    listing = admin_client.get("/admin/workflows/workflow/", {"q": "Nightly"})
    assert listing.status_code == 200 and b"Nightly" in listing.content
    change = admin_client.get(f"/admin/workflows/workflow/{workflow.pk}/change/")
    assert change.status_code == 200
    assert b"&quot;type&quot;: &quot;port_scan&quot;" in change.content  # pretty JSON, escaped


def test_the_admin_creates_from_a_template_through_the_service(
    admin_client: Client, team: Team
) -> None:
    answer = admin_client.post(
        "/admin/workflows/workflow/add/",
        {"team": team.pk, "name": "Ops recon", "description": "", "template": "quick-recon"},
    )
    assert answer.status_code == 302, answer.content[:2000]
    created = Workflow.objects.get(name="Ops recon")
    assert created.node_count == 4 and created.revision == 1
    assert AuditEvent.objects.filter(
        action="workflow.created", detail__workflow_id=created.pk
    ).exists()
