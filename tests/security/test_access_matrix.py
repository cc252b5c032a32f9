"""The access matrix, generated from the URL configuration and the OpenAPI schema: every route
(every API operation, every page, GET and POST) asked by every principal of *another* team —
its owner's, analyst's and viewer's API keys, a JWT, a browser session — and by nobody at all.

The answers it holds them to (the campaign's kinds of checks, kept in the suite):
- nobody: a route not listed as PUBLIC refuses (401 from the API, the log-in page for pages,
  the admin's log-in for the admin);
- another team: asking for one of this team's objects answers exactly what asking for an object
  that does not exist answers (no 403-versus-404 oracle), and no answer of any route carries any
  of this team's data (its marker);
- a route the test has no answer for fails the test: a new route must be classified here
  (ROUTE_KINDS, and an object for its ids in OBJECT_ROUTES) before it lands."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.invitations import team_member_invite
from accounts.models import Membership, Role, Team, User
from accounts.services import IssuedKey, team_create
from integrations.schedules.services import schedule_create
from integrations.services import integration_create, rule_create
from scans.imports.services import scan_import
from scans.models import Asset, Finding
from scans.services import scan_start
from targets.services import target_create
from tests.scanning import SCANNER_OUTPUTS
from workflows.services import workflow_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sync_tasks")]

MARKER = "victim7d1e"
MISSING_ID = 2_147_483_000
PRINCIPALS = ("anonymous", "owner_key", "analyst_key", "viewer_key", "jwt", "session")

# Routes anyone may ask (a page or an endpoint that needs no account).
PUBLIC = {
    "accounts/signup", "accounts/login", "accounts/logout", "accounts/invitations/<str:token>",
    "accounts/signup/sent", "accounts/signup/finish/<str:uidb64>/<str:token>",
    "admin/login/", "admin/logout/",
    "health", "metrics", "api/schema", "api/docs",
    "/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/reset-request",
    "/api/v1/auth/reset-confirm",
}  # fmt: skip

# The object each route's id addresses, by the route's beginning (the longest that matches).
OBJECT_ROUTES = {
    "scans/<int:pk>": "scan", "workflows/<int:pk>": "workflow", "targets/<int:pk>": "target",
    "integrations/<int:pk>": "integration", "integrations/rules/<int:pk>": "rule",
    "integrations/notify/scan/<int:scan_pk>": "scan",
    "integrations/schedules/<int:pk>": "schedule", "findings/<int:pk>": "finding",
    "assets/<int:pk>": "asset", "accounts/api-keys/<int:pk>": "api_key",
    "accounts/teams/members/<int:pk>": "membership",
    "accounts/teams/invitations/<int:pk>": "invitation",
    "/api/v1/scans/{id}": "scan", "/api/v1/workflows/{id}": "workflow",
    "/api/v1/targets/{id}": "target", "/api/v1/integrations/{id}": "integration",
    "/api/v1/notification-rules/{id}": "rule", "/api/v1/schedules/{id}": "schedule",
    "/api/v1/findings/{id}": "finding", "/api/v1/assets/{id}": "asset",
    "/api/v1/auth/api-keys/{id}": "api_key", "/api/v1/teams/members/{id}": "membership",
    "/api/v1/teams/invitations/{id}": "invitation",
}  # fmt: skip
STRING_PARAMETERS = {"token": "not-a-token", "kind": "webhook", "node_id": "ports"}


@dataclass(frozen=True)
class Route:
    kind: str  # "api", "page" or "admin"
    path: str  # the pattern: "scans/<int:pk>/" or "/api/v1/scans/{id}"
    methods: tuple[str, ...]

    @property
    def is_public(self) -> bool:
        return self.path in PUBLIC or self.path.rstrip("/") in PUBLIC


def _url_patterns() -> Iterator[str]:
    def walk(patterns: list[Any], prefix: str) -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    yield from walk(get_resolver().url_patterns, "")


def _api_schema() -> dict[str, Any]:
    answer = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return dict(json.loads(answer.content))


def _routes() -> list[Route]:
    routes = []
    for path, operations in _api_schema()["paths"].items():
        methods = tuple(
            m.upper() for m in operations if m in {"get", "post", "put", "patch", "delete"}
        )
        routes.append(Route("api", path, methods))
    for pattern in _url_patterns():
        if pattern.startswith("api/v1/"):
            continue  # the API's routes: from its schema (test_every_api_route_is_in_the_schema)
        if pattern.startswith("admin/"):
            routes.append(Route("admin", pattern, ("GET",)))
        else:
            routes.append(Route("page", pattern, ("GET", "POST")))
    return routes


def _object_of(route: Route) -> str | None:
    """Which object kind the route's id addresses; None when it has no id."""
    if not re.search(r"<int:\w+>|\{id\}", route.path):
        return None
    matches = [prefix for prefix in OBJECT_ROUTES if route.path.startswith(prefix)]
    return OBJECT_ROUTES[max(matches, key=len)] if matches else "unclassified"


def _url(route: Route, object_id: int | None) -> str:
    path = route.path if route.kind == "api" else "/" + route.path
    path = re.sub(r"<int:\w+>|\{id\}", str(object_id or MISSING_ID), path)
    for name, value in STRING_PARAMETERS.items():
        path = path.replace(f"<str:{name}>", value).replace(f"<slug:{name}>", value)
    return re.sub(r"<[^>]+>", "x", path)


@pytest.fixture
def victim(user: User, team: Team) -> dict[str, int]:
    """This team (the `user`'s) with one object of every kind, each carrying MARKER."""
    shared = team_create(name=f"{MARKER} team", owner=user)
    target = target_create(team=team, user=user, value=f"{MARKER}.example", note=MARKER)
    graph = {
        "nodes": [{"id": "ports", "type": "port_scan", "config": {"ports": "80"}, "x": 0, "y": 0}],
        "edges": [],
    }
    workflow = workflow_create(team=team, user=user, name=f"{MARKER} flow", graph=graph)
    scan = scan_start(
        team=team, user=user, workflow=workflow, target_ids=[target.pk], consent=True,
        mode="dry_run",
    )  # fmt: skip
    report = (SCANNER_OUTPUTS / "trivy" / "scheme_2_many_vulns.json").read_bytes()
    scan_import(team=team, user=user, tool="trivy", data=report, target=f"{MARKER}/app:1")
    integration = integration_create(
        team=team, user=user, kind="webhook", name=f"{MARKER} hook",
        webhook_url="https://hooks.example.com/outpost", signing_secret="s" * 32,
    )  # fmt: skip
    rule = rule_create(team=team, user=user, event="scan_completed", integration_id=integration.pk)
    schedule = schedule_create(
        team=team, user=user, name=f"{MARKER} nightly", workflow_id=workflow.pk,
        target_ids=[target.pk], consent=True, every_hours=24,
    )  # fmt: skip
    invitation = team_member_invite(
        team=shared, inviter=user, email=f"{MARKER}@example.com", role=Role.VIEWER
    )
    from accounts.services import api_key_create

    key = api_key_create(team=team, user=user, name=f"{MARKER} key").api_key
    asset = Asset.objects.filter(team=team).first()
    finding = Finding.objects.filter(team=team).first()
    assert asset is not None and finding is not None
    return {
        "scan": scan.pk, "workflow": workflow.pk, "target": target.pk,
        "integration": integration.pk, "rule": rule.pk, "schedule": schedule.pk,
        "finding": finding.pk, "asset": asset.pk, "api_key": key.pk,
        "membership": Membership.objects.get(team=team, user=user).pk,
        "invitation": invitation.pk,
    }  # fmt: skip


@pytest.fixture
def intruders(
    make_user: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
) -> dict[str, Any]:
    """Another team's principals: its owner's, analyst's and viewer's keys, a JWT, a session."""
    owner = make_user("intruder-owner@example.test")
    other = team_create(name="other team", owner=owner)
    clients: dict[str, Any] = {"anonymous": Client()}
    for role in (Role.OWNER, Role.ANALYST, Role.VIEWER):
        member = owner if role == Role.OWNER else make_user(f"intruder-{role}@example.test")
        if role != Role.OWNER:
            Membership.objects.create(team=other, user=member, role=role)
        clients[f"{role}_key"] = Client(
            HTTP_AUTHORIZATION=f"Bearer {issue_key(member, other, role=role).raw_key}"
        )
    owner_key = clients["owner_key"].defaults["HTTP_AUTHORIZATION"].split()[1]
    token = APIClient().post("/api/v1/auth/token", {"api_key": owner_key}, format="json")
    clients["jwt"] = Client(HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")
    session = Client()
    session.force_login(owner)
    session.post("/accounts/teams/switch", {"team_id": other.pk})
    clients["session"] = session
    return clients


def _ask(client: Client, method: str, url: str) -> Any:
    if method in ("POST", "PUT", "PATCH"):
        return getattr(client, method.lower())(url, "{}", content_type="application/json")
    return getattr(client, method.lower())(url)


def _body(answer: Any) -> str:
    if getattr(answer, "streaming", False):
        return b"".join(answer.streaming_content).decode(errors="replace")
    return bytes(answer.content).decode(errors="replace")


def _refuses_anonymous(route: Route, answer: Any) -> bool:
    if route.kind == "api":
        return bool(answer.status_code == 401)
    login = "/admin/login/" if route.kind == "admin" else "/accounts/login"
    location = answer.get("Location", "") if answer.status_code in (301, 302) else ""
    return location.startswith(login) or answer.status_code in (404, 405)


def test_every_api_route_is_in_the_schema() -> None:
    documented = {re.sub(r"\{\w+\}", "{}", path) for path in _api_schema()["paths"]}
    for pattern in _url_patterns():
        if not pattern.startswith("api/v1/") or "(?P<format>" in pattern:
            continue
        shape = "/" + re.sub(r"<\w+:\w+>|<\w+>|\(\?P<\w+>[^)]+\)", "{}", pattern).rstrip("$")
        shape = shape.replace("\\.", ".").replace("^", "")
        assert shape in documented, f"{pattern} answers but is not in the OpenAPI schema"


def test_every_route_has_an_answer_for_every_principal(
    victim: dict[str, int], intruders: dict[str, Any]
) -> None:
    routes = _routes()
    unclassified = [r.path for r in routes if _object_of(r) == "unclassified"]
    assert not unclassified, f"routes with ids the matrix cannot fill: {unclassified}"
    assert {r.kind for r in routes} == {"api", "page", "admin"} and len(routes) > 150

    problems: list[str] = []
    asked = 0
    for route in routes:
        object_kind = _object_of(route)
        for method in route.methods:
            for principal in PRINCIPALS:
                client = intruders[principal]
                if object_kind is not None:
                    theirs = _ask(client, method, _url(route, victim[object_kind]))
                    missing = _ask(client, method, _url(route, None))
                    asked += 2
                    if theirs.status_code != missing.status_code:
                        problems.append(
                            f"{principal} {method} {route.path}: another team's object answers "
                            f"{theirs.status_code}, a missing one {missing.status_code}"
                        )
                else:
                    theirs = _ask(client, method, _url(route, None))
                    asked += 1
                # /health answers 503 while no worker heart-beats (none runs in this test).
                if theirs.status_code >= 500 and (route.path, theirs.status_code) != (
                    "health",
                    503,
                ):
                    problems.append(f"{principal} {method} {route.path}: {theirs.status_code}")
                if MARKER in _body(theirs):
                    problems.append(f"{principal} {method} {route.path}: shows another team's data")
                if (
                    principal == "anonymous"
                    and not route.is_public
                    and not _refuses_anonymous(route, theirs)
                ):
                    problems.append(f"anonymous {method} {route.path}: {theirs.status_code}")
    assert asked > 1500
    assert not problems, "\n".join(problems)


def test_the_team_sees_its_own_objects_through_the_same_routes(
    victim: dict[str, int], user: User, team: Team, issue_key: Callable[..., IssuedKey]
) -> None:
    """The matrix's oracle works: the owner's own key reads what the intruders could not."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_key(user, team).raw_key}")
    for path, kind in (("/api/v1/targets/{id}", "target"), ("/api/v1/scans/{id}", "scan")):
        answer = client.get(path.replace("{id}", str(victim[kind])))
        assert answer.status_code == 200 and MARKER in _body(answer)
