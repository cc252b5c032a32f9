"""Workflow operations. The API, the pages (list and builder) and the admin all call these."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import yaml
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, Team, User
from config.jsonbody import JSONTooDeep, json_depth_exceeds, json_loads_bounded, max_json_depth
from config.names import name_clean
from workflows.graph import GraphError, graph_normalize, graph_ordered, graph_validate
from workflows.models import Workflow, empty_graph
from workflows.templates import template_get

MAX_NAME_LENGTH = 120
MAX_DESCRIPTION_LENGTH = 2000
# Saves of one workflow by one person closer together than this are one editing burst: one
# `workflow.updated` audit row (a drag in the builder saves once per move).
AUDIT_BURST_S = 60


class WorkflowInvalid(Exception):
    """Bad input: graph problems (each naming node and field) and/or field problems."""

    def __init__(
        self,
        graph_errors: list[GraphError] | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        self.graph_errors = list(graph_errors or [])
        self.fields = dict(fields or {})
        super().__init__(self.summary)

    @property
    def summary(self) -> str:
        if self.fields:
            name, problems = next(iter(self.fields.items()))
            return f"{name}: {problems[0]}"
        if self.graph_errors:
            more = len(self.graph_errors) - 1
            return f"Invalid graph: {self.graph_errors[0]}" + (
                f" (and {more} more)" if more else ""
            )
        return "Invalid workflow."

    def as_errors(self) -> dict[str, Any]:
        errors: dict[str, Any] = dict(self.fields)
        if self.graph_errors:
            errors["graph"] = [e.to_dict() for e in self.graph_errors]
        return errors


class StaleRevision(Exception):
    """The save named a revision that is no longer the current one (another tab saved first)."""

    def __init__(self, current: int | None) -> None:
        self.current = current
        super().__init__("stale revision: reload")


def workflows_for(team: Team) -> QuerySet[Workflow]:
    """The team's workflows, most recently changed first."""
    return (
        Workflow.objects.filter(team=team)
        .select_related("updated_by")
        .order_by("-updated_at", "-pk")
    )


def workflow_name_clean(name: Any) -> str:
    return name_clean(
        name, max_length=MAX_NAME_LENGTH,
        refused=lambda message: WorkflowInvalid(fields={"name": [message]}),
        missing="A name is required.", too_long=f"At most {MAX_NAME_LENGTH} characters.",
        control="No control characters.",
    )  # fmt: skip


def _clean_description(description: Any) -> str:
    if not isinstance(description, str):
        raise WorkflowInvalid(fields={"description": ["Must be text."]})
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise WorkflowInvalid(
            fields={"description": [f"At most {MAX_DESCRIPTION_LENGTH} characters."]}
        )
    return description.strip()


def graph_clean(graph: Any) -> dict[str, Any]:
    """The graph in canonical form, or WorkflowInvalid with every problem that stops a save.
    Problems that only stop a run (`draft_ok`: no node yet, a first node that cannot take the
    targets) are allowed, since graphs are built one node at a time; validate and scan start
    report them."""
    errors = [e for e in graph_validate(graph) if not e.draft_ok]
    if errors:
        raise WorkflowInvalid(errors)
    return graph_normalize(graph)


def _audit(action: str, workflow: Workflow, user: User | None, **extra: Any) -> None:
    audit_record(
        action,
        user=user,
        team=workflow.team,
        detail={
            "workflow_id": workflow.pk,
            "name": workflow.name,
            "revision": workflow.revision,
            **extra,
        },
    )


@transaction.atomic
def workflow_create(
    *,
    team: Team,
    user: User | None,
    name: str,
    description: str = "",
    graph: dict[str, Any] | None = None,
    audit_action: str = "workflow.created",
    audit_detail: dict[str, Any] | None = None,
) -> Workflow:
    """Create a workflow at revision 1 after validating its graph (stored canonical)."""
    clean_name = workflow_name_clean(name)
    clean_description = _clean_description(description)
    clean_graph = graph_clean(graph if graph is not None else empty_graph())
    now = timezone.now()
    workflow = Workflow.objects.create(
        team=team,
        name=clean_name,
        description=clean_description,
        graph=clean_graph,
        revision=1,
        created_by=user,
        updated_by=user,
        created_at=now,
        updated_at=now,
    )
    _audit(audit_action, workflow, user, nodes=workflow.node_count, **(audit_detail or {}))
    return workflow


def workflow_create_from_template(
    *, team: Team, user: User | None, template_key: str, name: str | None = None
) -> Workflow:
    """A team's own copy of a built-in template."""
    template = template_get(template_key)
    if template is None:
        raise WorkflowInvalid(fields={"template": [f"Unknown template {template_key!r}."]})
    return workflow_create(
        team=team,
        user=user,
        name=name or template.name,
        description=template.description,
        graph=template.build(),
        audit_detail={"template": template_key},
    )


@transaction.atomic
def workflow_update(
    *,
    workflow: Workflow,
    user: User | None,
    revision: int,
    name: str | None = None,
    description: str | None = None,
    graph: dict[str, Any] | None = None,
) -> Workflow:
    """Save changes made on `revision`. A conditional UPDATE on the revision makes the check and
    the write one step, so of two concurrent saves from the same revision exactly one wins;
    the other gets StaleRevision (the editor says "reload" instead of overwriting)."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = workflow_name_clean(name)
    if description is not None:
        changes["description"] = _clean_description(description)
    if graph is not None:
        changes["graph"] = graph_clean(graph)
    updated = Workflow.objects.filter(pk=workflow.pk, revision=revision).update(
        **changes, revision=F("revision") + 1, updated_by=user, updated_at=timezone.now()
    )
    if updated != 1:
        current = Workflow.objects.filter(pk=workflow.pk).values_list("revision", flat=True).first()
        raise StaleRevision(current)
    workflow.refresh_from_db()
    _audit_update(workflow, user, fields=sorted(changes))
    return workflow


def _audit_update(workflow: Workflow, user: User | None, *, fields: list[str]) -> None:
    """One `workflow.updated` row per editing burst: a save within AUDIT_BURST_S of the
    previous save by the same person extends that row (revision, fields, saves, last_at)
    instead of adding one. The workflow row is locked by the conditional UPDATE until commit,
    so two saves of one workflow never extend the same row at once."""
    now = timezone.now()
    actor = user if user is not None and user.is_authenticated else None
    last = (
        AuditEvent.objects.filter(
            team=workflow.team_id, action="workflow.updated", detail__workflow_id=workflow.pk
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is not None and last.user_id == (actor.pk if actor else None):
        detail = dict(last.detail)
        try:
            last_at = datetime.fromisoformat(str(detail.get("last_at") or last.created_at))
        except ValueError:
            last_at = last.created_at
        if now - last_at <= timedelta(seconds=AUDIT_BURST_S):
            detail.update(
                name=workflow.name,
                revision=workflow.revision,
                fields=sorted(set(detail.get("fields") or []) | set(fields)),
                saves=int(detail.get("saves") or 1) + 1,
                last_at=now.isoformat(),
            )
            AuditEvent.objects.filter(pk=last.pk).update(detail=detail)
            return
    _audit(
        "workflow.updated",
        workflow,
        user,
        fields=fields,
        saves=1,
        first_revision=workflow.revision,
        last_at=now.isoformat(),
    )


@transaction.atomic
def workflow_delete(*, workflow: Workflow, user: User | None) -> None:
    """Delete a workflow. Its scans stay (they keep the exact graph they ran)."""
    _audit("workflow.deleted", workflow, user)
    workflow.delete()


def workflow_duplicate(
    *, workflow: Workflow, user: User | None, name: str | None = None
) -> Workflow:
    """A copy in the same team, at revision 1."""
    copy_name = name or f"Copy of {workflow.name}"[:MAX_NAME_LENGTH]
    return workflow_create(
        team=workflow.team,
        user=user,
        name=copy_name,
        description=workflow.description,
        graph=workflow.graph,
        audit_detail={"duplicate_of": workflow.pk},
    )


# --- Export and import -------------------------------------------------------------------

EXPORT_FORMAT = "outpost.workflow"
EXPORT_VERSION = 1
EXPORT_KEYS = ("format", "version", "name", "description", "graph")
IMPORT_MAX_BYTES = 256 * 1024
FORMATS = ("json", "yaml")


class _NoAliasSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader (plain data only), refusing anchors/aliases: a workflow never needs
    them, and they are how a small document expands into a huge one ("billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted", event.start_mark
            )
        return super().compose_node(parent, index)


def workflow_export_document(workflow: Workflow) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "name": workflow.name,
        "description": workflow.description,
        "graph": graph_ordered(workflow.graph),
    }


def workflow_export(workflow: Workflow, fmt: str = "json") -> str:
    """The workflow as a portable document (no ids, owners or revision). Importing it and
    exporting again gives the same text: names, description and the canonical graph."""
    document = workflow_export_document(workflow)
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(
            document, sort_keys=False, allow_unicode=True, default_flow_style=False
        )
    raise ValueError(f"unknown export format {fmt!r} (json or yaml)")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse(data: bytes | str, fmt: str) -> Any:
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > IMPORT_MAX_BYTES:
        raise WorkflowInvalid(
            fields={"file": [f"Too large: at most {IMPORT_MAX_BYTES // 1024} KiB."]}
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WorkflowInvalid(fields={"file": ["Not UTF-8 text."]}) from None
    try:
        if fmt == "json":
            return json_loads_bounded(text, parse_constant=_refuse_constant)
        if fmt == "yaml":
            document = yaml.load(text, Loader=_NoAliasSafeLoader)  # noqa: S506  (a SafeLoader subclass)
            if json_depth_exceeds(document, max_json_depth()):
                raise JSONTooDeep(max_json_depth())
            return document
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        if isinstance(exc, RecursionError):  # PyYAML recurses per level too
            exc = JSONTooDeep(max_json_depth())
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WorkflowInvalid(
            fields={"file": [f"Not valid {fmt.upper()}: {reason}"[:300]]}
        ) from None
    raise WorkflowInvalid(fields={"format": [f"Unknown format {fmt!r} (json or yaml)."]})


def workflow_import(*, team: Team, user: User | None, data: bytes | str, fmt: str) -> Workflow:
    """Create a workflow from an exported document (JSON, or YAML read by PyYAML's safe loader
    without aliases), size-limited and validated like any other save."""
    document = _parse(data, fmt)
    if not isinstance(document, dict):
        raise WorkflowInvalid(
            fields={"file": ["Expected an exported workflow (an object with a graph)."]}
        )
    unknown = sorted(str(k) for k in document if k not in EXPORT_KEYS)
    if unknown:
        raise WorkflowInvalid(fields={key: ["Unknown field."] for key in unknown})
    if document.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
        raise WorkflowInvalid(fields={"format": [f"Expected {EXPORT_FORMAT!r}."]})
    if document.get("version", EXPORT_VERSION) != EXPORT_VERSION:
        raise WorkflowInvalid(
            fields={"version": [f"Only version {EXPORT_VERSION} can be imported."]}
        )
    if "graph" not in document:
        raise WorkflowInvalid(fields={"graph": ["Required."]})
    return workflow_create(
        team=team,
        user=user,
        name=document.get("name", "Imported workflow"),
        description=document.get("description", ""),
        graph=document["graph"],
        audit_action="workflow.imported",
        audit_detail={"format": fmt},
    )
