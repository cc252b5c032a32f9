"""What the builder's editing relies on, without a browser: one audit row per editing burst,
the "connect to…" list agreeing with the validator, and the palette's kinds line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, Team, User
from workflows.graph import graph_connectable, graph_validate
from workflows.nodes import node_types
from workflows.services import AUDIT_BURST_S, workflow_create, workflow_update

pytestmark = pytest.mark.django_db


def _graph(*nodes: tuple[str, str], edges: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    return {
        "nodes": [{"id": i, "type": t, "config": {}, "x": 0, "y": 0} for i, t in nodes],
        "edges": [{"from": a, "to": b} for a, b in edges],
    }


def test_saves_in_one_burst_are_one_audit_row_and_a_pause_starts_another(
    team: Team, user: User
) -> None:
    workflow = workflow_create(team=team, user=user, name="Burst", graph=_graph(("p", "port_scan")))
    for x in range(1, 6):  # five drags
        graph = _graph(("p", "port_scan"))
        graph["nodes"][0]["x"] = x * 10
        workflow = workflow_update(
            workflow=workflow, user=user, revision=workflow.revision, graph=graph
        )
    rows = AuditEvent.objects.filter(action="workflow.updated", detail__workflow_id=workflow.pk)
    assert rows.count() == 1
    row = rows.get()
    assert row.detail["saves"] == 5 and row.detail["revision"] == 6
    assert row.detail["first_revision"] == 2 and row.detail["fields"] == ["graph"]
    # A pause longer than the burst: the next save is a new row.
    detail = dict(row.detail)
    detail["last_at"] = (timezone.now() - timedelta(seconds=AUDIT_BURST_S + 5)).isoformat()
    AuditEvent.objects.filter(pk=row.pk).update(detail=detail)
    workflow_update(workflow=workflow, user=user, revision=workflow.revision, name="Burst 2")
    assert rows.count() == 2


def test_another_persons_save_is_its_own_audit_row(
    team: Team, user: User, make_member: Any
) -> None:
    other = make_member(team, email="second@example.test")
    workflow = workflow_create(team=team, user=user, name="Two people")
    workflow = workflow_update(workflow=workflow, user=user, revision=1, name="One")
    workflow_update(workflow=workflow, user=other, revision=workflow.revision, name="Two")
    assert AuditEvent.objects.filter(action="workflow.updated").count() == 2


def test_connect_to_offers_exactly_the_edges_the_validator_accepts() -> None:
    graph = _graph(
        ("ports", "port_scan"), ("web", "http_probe"), ("secrets", "secret_scan"),
        ("high", "condition"), ("after", "port_scan"),
        edges=(("ports", "web"), ("high", "after")),
    )  # fmt: skip
    for source in ("ports", "web", "secrets", "high", "after"):
        offered = set(graph_connectable(graph, source))
        for target in ("ports", "web", "secrets", "high", "after"):
            trial = {**graph, "edges": [*graph["edges"], {"from": source, "to": target}]}
            accepted = not [e for e in graph_validate(trial) if not e.draft_ok]
            already = {"from": source, "to": target} in graph["edges"]
            assert (target in offered) == (accepted and not already), (source, target)
    # The case a user saw: HTTP probe cannot feed the repo scanner.
    assert "secrets" not in graph_connectable(graph, "web")
    # web → high would make the condition hand on urls only, which `after` (a port scan) refuses.
    assert "high" not in graph_connectable(graph, "web")


def test_the_palette_line_is_made_of_the_kinds_the_validator_checks() -> None:
    for kind in node_types():
        if not kind.is_available:
            continue
        takes = sorted(kind.accepts) + (["findings"] if kind.consumes_findings else [])
        assert sorted(kind.takes) == sorted(takes)
        assert kind.io_text.startswith("Takes ")
    secret = next(k for k in node_types() if k.type == "secret_scan")
    assert secret.io_text == "Takes repo · gives findings"
