from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Team, User
from workflows.models import Workflow
from workflows.services import workflow_create


def chain_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": "ports",
                "type": "port_scan",
                "config": {"ports": "22,80,443"},
                "x": 80,
                "y": 120,
            },
            {
                "id": "gate",
                "type": "condition",
                "config": {"min_severity": "high"},
                "x": 340,
                "y": 120,
            },
            {"id": "wait", "type": "delay", "config": {"seconds": 5}, "x": 600, "y": 120},
        ],
        "edges": [{"from": "ports", "to": "gate"}, {"from": "gate", "to": "wait"}],
    }


@pytest.fixture
def workflow(team: Team, user: User) -> Workflow:
    return workflow_create(
        team=team, user=user, name="Nightly", description="ports then gate", graph=chain_graph()
    )


@pytest.fixture
def service_only_type(settings: Any) -> str:
    """Adding a node type is writing its module in a package the registry reads (here a test
    package added to NODE_PACKAGES)."""
    settings.NODE_PACKAGES = [*settings.NODE_PACKAGES, "tests.workflows.extra_nodes"]
    return "svc_only"
