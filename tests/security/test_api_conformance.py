"""The API against its own OpenAPI schema, with schemathesis (the campaign's generated cases, kept
in the suite and bounded for CI): for every operation, requests generated from the schema — valid
ones, with real ids of this team's objects and random ones, then invalid ones — get no server
error, only documented status codes and content types, and bodies that match the schema; an
invalid request (a wrong type, an unknown enum value, an unknown field) is refused.

A request valid by the schema must be accepted (`schema_valid_request_accepted`): a 4xx other
than one that depends on what is stored (404 an unknown id, 409 a conflict, 403 the role, and
the refusals listed in STORED_STATE: a key or token never issued, a target out of the stored
scope, an expiry behind the clock) is a rule the schema does not state. The rules a schema can
state are stated (non-empty lists, strict bodies, page sizes and id bounds, PATCH bodies as
validated, consent that must be true, one of text/csv/rows, an acceptance's reason);
NOT_YET_STATED lists the operations whose rules are about what a value means (a graph, a cron
expression, a target's syntax, a report), known gaps held to their one refusal.
`test_the_campaigns_cases` pins the cases the campaign reported.

The run is in-process (WSGI, on the test database) and derandomized, so a failure repeats.
OPENAPI_EXAMPLES sets the examples per operation and mode (default 6: about a minute)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from accounts.models import Team, User
from accounts.services import IssuedKey
from scans.services import scan_start
from targets.services import target_create
from workflows.services import workflow_create

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("OPENAPI_EXAMPLES", "6"))

# A request the schema calls valid may still be refused for what is stored, never for its shape:
# an id that is not this team's or does not exist (404), a state that forbids the action (409),
# a role too low (403). Any other 4xx is a rule the schema does not state.
STATE_REFUSALS = {403, 404, 409}
# The same, answered with another status by an operation: what is stored decides, and the
# answer's words say which rule refused it (a different refusal still fails).
STORED_STATE = {
    "POST /api/v1/auth/token": [(401, "Invalid API key")],  # a key that was never issued
    "POST /api/v1/auth/reset-confirm": [(400, "Invalid or expired reset token")],
    "GET /api/v1/assets": [(400, "not a cursor from this list")],  # cursors come from a page
    "POST /api/v1/findings/assign": [(400, "Not a member of this team")],
    "POST /api/v1/findings/groups/assign": [(400, "Not a member of this team")],
    "POST /api/v1/notification-rules": [(400, "Unknown integration")],
    "POST /api/v1/scans": [(400, "Unknown workflow"), (400, "Unknown target")],
    "POST /api/v1/scan/docker": [(400, "is not in scope")],  # the scope is the stored targets
    "POST /api/v1/teams/members": [(400, "A personal team cannot have other members")],
    "PATCH /api/v1/teams/members/{id}": [(400, "A team needs at least one owner")],
    "DELETE /api/v1/teams/members/{id}": [(400, "Nobody can leave their personal team")],
    # The clock: an expiry must be ahead of the time of the request.
    "POST /api/v1/auth/api-keys": [(400, "Expiry must be in the future")],
    "POST /api/v1/findings/groups/triage": [(400, "must end in the future")],
    "POST /api/v1/findings/triage": [(400, "must end in the future")],
}
# Rules the schema does not state yet, found by this check (issue #21's item 7): what a value
# means (a target's syntax by kind, a cron expression, a workflow graph, a report's format, a
# webhook's URL and host, an e-mail integration's recipients) and one parameter needing another
# (diff needs scan). Names say "no control characters" as a pattern (NAME_SCHEMA), but the
# generator does not always hold to it (a control character still reaches the server). Listed
# so that every other operation is held to the rule now; each is a known gap, held to the
# refusal named here.
NOT_YET_STATED = {
    "GET /api/v1/findings": [(400, "Comparing needs a scan")],
    "GET /api/v1/findings/groups": [(400, "Comparing needs a scan")],
    "POST /api/v1/integrations": [(400, "recipients"), (400, "webhook"), (400, "control char")],
    "POST /api/v1/integrations/discord": [(400, "webhook"), (400, "control characters")],
    "POST /api/v1/integrations/slack": [(400, "webhook"), (400, "control characters")],
    "POST /api/v1/scans/import": [(400, "report")],
    "POST /api/v1/schedules": [(400, "cron"), (400, "Unknown workflow")],
    "POST /api/v1/targets": [(400, "")],
    "POST /api/v1/targets/bulk": [(400, "Nothing imported")],
    "POST /api/v1/workflows": [(400, "graph"), (400, "control characters")],
    "PUT /api/v1/workflows/{id}": [(400, "graph"), (400, "control characters")],
    "PATCH /api/v1/workflows/{id}": [(400, "graph"), (400, "control characters")],
    "POST /api/v1/workflows/import": [(400, "")],
}


def schema_valid_request_accepted(ctx: Any, response: Any, case: Any) -> None:
    """Run on generated valid requests only (POSITIVE_CHECKS)."""
    status = response.status_code
    if not 400 <= status < 500 or status in STATE_REFUSALS:
        return
    known = STORED_STATE.get(case.operation.label, []) + NOT_YET_STATED.get(
        case.operation.label, []
    )
    if any(status == expected and words in response.text for expected, words in known):
        return
    raise AssertionError(
        f"a request valid by the schema was refused with {status}: {response.text[:300]}"
    )


POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    schema_valid_request_accepted,
]
NEGATIVE_CHECKS = [not_a_server_error, status_code_conformance, negative_data_rejection]


@pytest.fixture
def in_process_wsgi() -> Iterator[Any]:
    """Django's WSGI handler on the test database: like Django's test client, it must not close
    the test's connection at the start and end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def team_objects(user: User, team: Team) -> dict[str, int]:
    """One object of each kind the {id} routes address, by the route's first segments."""
    target = target_create(team=team, user=user, value="127.0.0.1", note="conformance")
    graph = {
        "nodes": [{"id": "ports", "type": "port_scan", "config": {"ports": "80"}, "x": 0, "y": 0}],
        "edges": [],
    }
    workflow = workflow_create(team=team, user=user, name="conformance", graph=graph)
    scan = scan_start(
        team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True,
        mode="dry_run",
    )  # fmt: skip
    return {
        "/api/v1/targets/": target.pk,
        "/api/v1/workflows/": workflow.pk,
        "/api/v1/scans/": scan.pk,
        "/api/v1/teams/members/": user.memberships.get(team=team).pk,
    }


def _path_strategies(operation: Any, objects: dict[str, int]) -> Any:
    free = operation.as_strategy()
    known = [pk for prefix, pk in objects.items() if operation.path.startswith(prefix)]
    if "{id}" not in operation.path or not known:
        return free
    return st.one_of(free, operation.as_strategy(path_parameters={"id": known[0]}))


def _run_cases(strategy: Any, checks: list[Any], headers: dict[str, str]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def run(case: Any) -> None:
        # A savepoint per request: one failure must not leave the test's transaction aborted
        # for every operation after it.
        with transaction.atomic():
            case.call_and_validate(headers=headers, checks=checks)

    run()


def test_every_operation_conforms_to_the_schema(
    in_process_wsgi: Any,
    user: User,
    team: Team,
    issue_key: Callable[..., IssuedKey],
    team_objects: dict[str, int],
) -> None:
    headers = {"Authorization": f"Bearer {issue_key(user, team).raw_key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", in_process_wsgi)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation the schema cannot describe
        operation = result.ok()
        operations += 1
        for mode, strategy, checks in (
            ("valid", _path_strategies(operation, team_objects), POSITIVE_CHECKS),
            ("invalid", operation.as_strategy(GenerationMode.NEGATIVE), NEGATIVE_CHECKS),
        ):
            try:
                _run_cases(strategy, checks, headers)
            except BaseExceptionGroup as exc:  # schemathesis' FailureGroup: all of this operation's
                failures[f"{operation.label} ({mode} requests)"] = str(exc)[:2500]
    assert operations > 60  # the schema was read whole
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("get", "/api/v1/targets?page_size=true", None, "page_size"),
        ("get", "/api/v1/scans?page_size=0", None, "page_size"),
        ("get", "/api/v1/targets?kind=", None, "kind"),
        ("post", "/api/v1/targets/check", {"items": []}, "items"),
        ("post", "/api/v1/findings/triage", {"ids": [1], "status": "open", "comment": 0}, "comment"),
        ("post", "/api/v1/scans", {"workflow": 1, "targets": [1], "authorize_targets": "yes"}, "authorize_targets"),
    ],
)  # fmt: skip
def test_the_campaigns_cases_are_refused_naming_the_field(
    owner_api: APIClient, method: str, path: str, body: Any, field: str
) -> None:
    answer = (
        getattr(owner_api, method)(path, body, format="json")
        if body is not None
        else (getattr(owner_api, method)(path))
    )
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"], answer.json()


def _schema() -> dict[str, Any]:
    answer = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return dict(json.loads(answer.content))


def test_a_page_past_the_end_is_a_documented_404(owner_api: APIClient) -> None:
    answer = owner_api.get("/api/v1/targets?page=9")
    assert answer.status_code == 404
    schema = _schema()
    for path in ("/api/v1/targets", "/api/v1/scans", "/api/v1/findings", "/api/v1/workflows"):
        assert {"400", "404"} <= set(schema["paths"][path]["get"]["responses"]), path


def test_the_workflow_export_is_the_object_the_schema_states(
    owner_api: APIClient, user: User, team: Team
) -> None:
    graph = {"nodes": [{"id": "a", "type": "port_scan", "config": {}, "x": 0, "y": 0}], "edges": []}
    workflow = workflow_create(team=team, user=user, name="export", graph=graph)
    answer = owner_api.get(f"/api/v1/workflows/{workflow.pk}/export")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/json")
    assert isinstance(answer.json(), dict)
    schema = _schema()
    declared = schema["paths"]["/api/v1/workflows/{id}/export"]["get"]["responses"]["200"]
    assert declared["content"]["application/json"]["schema"]["type"] == "object"
