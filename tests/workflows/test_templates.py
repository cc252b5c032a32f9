from __future__ import annotations

import pytest

from accounts.models import Team, User
from workflows.graph import graph_order, graph_validate
from workflows.services import WorkflowInvalid, workflow_create_from_template
from workflows.templates import TEMPLATES, template_graph

pytestmark = pytest.mark.django_db


def test_every_template_is_a_valid_graph(settings) -> None:
    for grype in (False, True):
        settings.GRYPE_ENABLED = grype
        for template in TEMPLATES.values():
            assert graph_validate(template.build()) == [], template.key


def test_quick_recon_is_the_chain_of_the_issue() -> None:
    graph = template_graph("quick-recon")
    types = {n["id"]: n["type"] for n in graph["nodes"]}
    assert [types[n] for n in graph_order(graph)] == [
        "dns_resolve",
        "port_scan",
        "http_probe",
        "tls_inspect",
    ]


def test_the_image_audit_adds_grype_only_when_it_is_enabled(settings) -> None:
    settings.GRYPE_ENABLED = False
    assert [n["type"] for n in template_graph("container-image-audit")["nodes"]] == ["trivy"]
    settings.GRYPE_ENABLED = True
    assert [n["type"] for n in template_graph("container-image-audit")["nodes"]] == [
        "trivy",
        "grype",
    ]


def test_a_team_gets_its_own_copy_of_a_template(team: Team, user: User) -> None:
    workflow = workflow_create_from_template(team=team, user=user, template_key="quick-recon")
    assert workflow.name == "Quick recon" and workflow.team == team and workflow.revision == 1
    assert workflow.graph == template_graph("quick-recon")
    renamed = workflow_create_from_template(
        team=team, user=user, template_key="web-exposure", name="Public sites"
    )
    assert renamed.name == "Public sites"


def test_an_unknown_template_is_refused(team: Team, user: User) -> None:
    with pytest.raises(WorkflowInvalid) as caught:
        workflow_create_from_template(team=team, user=user, template_key="everything")
    assert "template" in caught.value.fields
