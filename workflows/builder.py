"""The visual builder's views. The server owns the graph: the canvas posts every change, the
same validation as the API decides, and the answer carries the saved graph and the HTML of
every node, rendered here from the saved graph (escaped), never taken from what was posted."""

from __future__ import annotations

import copy
import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.module_loading import import_string
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import TeamHttpRequest
from accounts.models import Role, role_at_least
from accounts.permissions import team_role_required
from config.jsonbody import JSONTooDeep, json_loads_bounded
from targets.items import ITEM_KINDS
from workflows import services
from workflows.forms import NodeConfigForm, WorkflowSettingsForm
from workflows.graph import (
    GraphError,
    graph_connectable,
    graph_node_kinds,
    graph_ordered,
    graph_validate,
)
from workflows.models import Workflow
from workflows.node_config import config_normalize
from workflows.nodes import GROUPS, get_node_type, node_type, node_types
from workflows.views import workflow_for

MAX_SUMMARY_LENGTH = 48


def config_summary(
    node: dict[str, Any],
    *,
    team_id: int | None = None,
    option_names: dict[tuple[str, str], dict[Any, str]] | None = None,
) -> str:
    """A short line for the node on the canvas: what differs from the defaults, else the
    first setting (so a port scan says which ports). An id field with options (an alert node's
    integration) shows the option's name; `option_names` keeps the looked-up names for the
    other nodes of the same graph (one query per node type, not per node)."""
    kind = node_type(node.get("type", ""))
    if kind is None or not kind.is_available:
        return ""
    defaults = config_normalize(kind, {})
    config = node.get("config") or {}
    changed = [(k, v) for k, v in config.items() if v != defaults.get(k)]
    shown = changed or list(config.items())[:1]
    specs = {spec.name: spec for spec in kind.config_fields}
    parts = []
    for name, value in shown:
        words = name.replace("_", " ")
        spec = specs.get(name)
        if spec is not None and spec.options_from and team_id is not None:
            key = (spec.options_from, kind.type)
            cache = option_names if option_names is not None else {}
            if key not in cache:
                cache[key] = dict(import_string(spec.options_from)(team_id, kind.type))
            names = cache[key]
            parts.append(names.get(value, f"{words} #{value} (not available)"))
        elif isinstance(value, list):
            parts.append(f"{len(value)} {words}")
        elif isinstance(value, bool):
            parts.append(words if value else f"no {words}")
        elif value != "":
            parts.append(f"{words} {value}")
    text = " · ".join(parts)
    return text if len(text) <= MAX_SUMMARY_LENGTH else text[: MAX_SUMMARY_LENGTH - 1] + "…"


def node_html(
    node: dict[str, Any],
    problems: list[GraphError],
    *,
    team_id: int | None = None,
    option_names: dict[tuple[str, str], dict[Any, str]] | None = None,
) -> str:
    kind = node_type(node.get("type", ""))
    return render_to_string(
        "workflows/_node.html",
        {
            "node": node,
            "kind": kind,
            "title": node.get("label") or (kind.label if kind else node.get("type")),
            "summary": config_summary(node, team_id=team_id, option_names=option_names),
            "problems": [p for p in problems if p.node == node.get("id")],
        },
    )


def graph_state(workflow: Workflow) -> dict[str, Any]:
    """What the canvas needs after every save: the saved graph, the revision, each node's HTML
    and what still stops the workflow from running."""
    problems = graph_validate(workflow.graph)
    nodes = workflow.graph.get("nodes", [])
    option_names: dict[tuple[str, str], dict[Any, str]] = {}
    readiness = render_to_string(
        "workflows/_readiness.html", {"problems": problems, "node_count": len(nodes)}
    )
    summary = render_to_string(
        "workflows/_readiness_summary.html", {"blocking": problems, "node_count": len(nodes)}
    )
    return {
        "revision": workflow.revision,
        "name": workflow.name,
        "graph": graph_ordered(workflow.graph),
        "html": {
            n["id"]: node_html(n, problems, team_id=workflow.team_id, option_names=option_names)
            for n in nodes
        },
        "problems": [p.to_dict() for p in problems],
        # The Readiness panel, re-rendered after every save (it must never go stale).
        "readiness": readiness,
        "readiness_summary": summary,
        # What each node takes and hands on, as the validator sees it (ports, "connect to…").
        "kinds": graph_node_kinds(workflow.graph),
    }


def _palette() -> list[dict[str, Any]]:
    groups: dict[str, list[Any]] = {group: [] for group in GROUPS}
    for kind in node_types():
        # Switched-off types are shown greyed out; types whose code is missing are left out.
        if kind.is_available or kind.is_switched_off:
            groups[kind.group].append(kind)
    return [{"name": name, "types": types} for name, types in groups.items() if types]


def _can_write(request: HttpRequest) -> bool:
    return role_at_least(getattr(request, "role", None), Role.ANALYST)


@team_role_required(Role.VIEWER)
def builder(request: TeamHttpRequest, pk: int) -> HttpResponse:
    workflow = workflow_for(request, pk)
    placeholders = [
        (kind, node_html({"id": "", "type": kind.type, "config": kind.defaults()}, []))
        for kind in node_types()
        if kind.is_available
    ]
    context = {
        "workflow": workflow,
        "palette": _palette(),
        "placeholders": placeholders,
        "item_kinds": ITEM_KINDS,
        "can_write": _can_write(request),
        **_panel_context(request, workflow),
    }
    return render(request, "workflows/builder.html", context)


@require_http_methods(["GET", "POST"])
@team_role_required(Role.VIEWER)
def builder_graph(request: TeamHttpRequest, pk: int) -> JsonResponse:
    """GET: the saved state. POST `{"graph", "revision"}`: save the canvas. 400 when the
    change is refused (the answer carries the saved state to go back to), 409 when another
    save came first (stale tab)."""
    workflow = workflow_for(request, pk)
    if request.method == "GET":
        return JsonResponse(graph_state(workflow))
    if not _can_write(request):
        return JsonResponse(
            {"detail": "Your role in this team does not allow changes."}, status=403
        )
    try:
        body = json_loads_bounded(request.body or b"{}")
        graph, revision = body["graph"], int(body["revision"])
    except JSONTooDeep as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    except (ValueError, KeyError, TypeError):
        return JsonResponse(
            {"detail": "Expected a JSON object with graph and revision."}, status=400
        )
    try:
        workflow = services.workflow_update(
            workflow=workflow, user=request.user, revision=revision, graph=graph
        )
    except services.StaleRevision as exc:
        return JsonResponse(
            {"detail": "stale revision: reload", "revision": exc.current}, status=409
        )
    except services.WorkflowInvalid as exc:
        workflow.refresh_from_db()
        refused = {"detail": exc.summary, "errors": [e.to_dict() for e in exc.graph_errors]}
        return JsonResponse({**graph_state(workflow), **refused}, status=400)
    return JsonResponse(graph_state(workflow))


# --- The side panel: the workflow (settings, problems, run) or one node's config ------------


def _panel_context(request: HttpRequest, workflow: Workflow, **extra: Any) -> dict[str, Any]:
    return {
        "workflow": workflow,
        "can_write": _can_write(request),
        "settings_form": extra.pop("settings_form", None)
        or WorkflowSettingsForm(
            initial={
                "name": workflow.name,
                "description": workflow.description,
                "revision": workflow.revision,
            }
        ),
        "problems": graph_validate(workflow.graph),
        **extra,
    }


def _saved(response: HttpResponse, workflow: Workflow) -> HttpResponse:
    """Tell the canvas (builder.js) that the workflow was saved by a panel form."""
    response["HX-Trigger"] = json.dumps(
        {"builder:saved": {"revision": workflow.revision, "name": workflow.name}}
    )
    return response


def _stale(response: HttpResponse, current: int | None) -> HttpResponse:
    response["HX-Trigger"] = json.dumps({"builder:stale": {"revision": current}})
    return response


@team_role_required(Role.VIEWER)
def workflow_panel(request: TeamHttpRequest, pk: int) -> HttpResponse:
    workflow = workflow_for(request, pk)
    return render(request, "workflows/_panel_workflow.html", _panel_context(request, workflow))


@require_POST
@team_role_required(Role.ANALYST)
def workflow_settings(request: TeamHttpRequest, pk: int) -> HttpResponse:
    workflow = workflow_for(request, pk)
    form = WorkflowSettingsForm(request.POST)
    if form.is_valid():
        try:
            workflow = services.workflow_update(
                workflow=workflow,
                user=request.user,
                revision=form.cleaned_data["revision"],
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except services.WorkflowInvalid as exc:
            for field, problems in exc.fields.items():
                form.add_error(field if field in form.fields else None, problems)
        except services.StaleRevision as exc:
            form.add_error(
                None, "stale revision: reload — this workflow was saved elsewhere meanwhile."
            )
            context = _panel_context(request, workflow, settings_form=form)
            return _stale(render(request, "workflows/_panel_workflow.html", context), exc.current)
        else:
            context = _panel_context(request, workflow, settings_saved=True)
            return _saved(render(request, "workflows/_panel_workflow.html", context), workflow)
    return render(
        request,
        "workflows/_panel_workflow.html",
        _panel_context(request, workflow, settings_form=form),
    )


def _find_node(workflow: Workflow, node_id: str) -> dict[str, Any] | None:
    return next((n for n in workflow.graph.get("nodes", []) if n.get("id") == node_id), None)


def _node_panel(
    request: HttpRequest, workflow: Workflow, node: dict[str, Any], **extra: Any
) -> HttpResponse:
    kind = get_node_type(node["type"])
    form = extra.pop("form", None) or NodeConfigForm(
        node_type=kind, node=node, team_id=workflow.team_id, initial={"revision": workflow.revision}
    )
    labels = {
        n["id"]: n.get("label") or getattr(node_type(n.get("type", "")), "label", n.get("type"))
        for n in workflow.graph.get("nodes", [])
    }
    context = {
        "workflow": workflow,
        "node": node,
        "kind": kind,
        "info": kind.describe(),
        # "Connect to…": the keyboard and touch way to draw an edge, offering only what fits.
        "connectable": [
            (other, labels.get(other, other))
            for other in graph_connectable(workflow.graph, node["id"])
        ],
        "outgoing": [
            (e["to"], labels.get(e["to"], e["to"]))
            for e in workflow.graph.get("edges", [])
            if e.get("from") == node["id"]
        ],
        "form": form,
        "can_write": _can_write(request),
        "problems": [p for p in graph_validate(workflow.graph) if p.node == node["id"]],
        **extra,
    }
    return render(request, "workflows/_panel_node.html", context)


@require_http_methods(["GET", "POST"])
@team_role_required(Role.VIEWER)
def node_panel(request: TeamHttpRequest, pk: int, node_id: str) -> HttpResponse:
    """The node's config form, generated from its type's schema; POST saves it into the graph."""
    workflow = workflow_for(request, pk)
    node = _find_node(workflow, node_id)
    kind = node_type(node["type"]) if node else None
    if node is None or kind is None or not kind.is_available:
        return render(
            request, "workflows/_panel_missing.html", {"workflow": workflow, "node_id": node_id}
        )
    if request.method == "GET":
        return _node_panel(request, workflow, node)
    if not _can_write(request):
        return render(
            request,
            "workflows/_panel_missing.html",
            {"workflow": workflow, "read_only": True},
            status=403,
        )
    form = NodeConfigForm(request.POST, node_type=kind, node=node, team_id=workflow.team_id)
    # The builder saves settings as they are typed and wants only the status and each field's
    # errors back (out of band), so the inputs being typed into are never replaced.
    answer = _node_status if request.headers.get("HX-Target") == "node-form-status" else _node_panel
    if not form.is_valid():
        return answer(request, workflow, node, form=form)
    graph = copy.deepcopy(workflow.graph)
    changed = next(n for n in graph["nodes"] if n["id"] == node_id)
    changed["config"] = form.config()
    changed.pop("label", None)
    if form.cleaned_data["label"]:
        changed["label"] = form.cleaned_data["label"]
    if config_normalize(kind, changed["config"]) == config_normalize(
        kind, node.get("config") or {}
    ) and changed.get("label", "") == node.get("label", ""):
        return answer(request, workflow, node, saved_message=True)  # nothing changed
    try:
        workflow = services.workflow_update(
            workflow=workflow,
            user=request.user,
            revision=form.cleaned_data["revision"],
            graph=graph,
        )
    except services.WorkflowInvalid as exc:
        for error in exc.graph_errors:
            if error.node == node_id and error.field:
                form.add_graph_error(error.field, error.message)
            else:
                form.add_error(None, str(error))
        return answer(request, workflow, node, form=form)
    except services.StaleRevision as exc:
        form.add_error(
            None, "stale revision: reload — this workflow was saved elsewhere meanwhile."
        )
        return _stale(answer(request, workflow, node, form=form), exc.current)
    saved = _find_node(workflow, node_id) or changed
    return _saved(answer(request, workflow, saved, saved_message=True), workflow)


def _node_status(
    request: HttpRequest, workflow: Workflow, node: dict[str, Any], **extra: Any
) -> HttpResponse:
    kind = get_node_type(node["type"])
    form = extra.pop("form", None)
    # Every field's error slot is sent, empty ones too, so fixed fields lose their old error.
    shown = form or NodeConfigForm(node_type=kind, node=node, team_id=workflow.team_id)
    context = {
        "workflow": workflow,
        "node": node,
        "kind": kind,
        "form": form,
        "fields": [f for f in shown if f.name != "revision"],
        **extra,
    }
    return render(request, "workflows/_node_status.html", context)
