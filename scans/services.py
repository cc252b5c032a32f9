"""Starting, planning, cancelling and deleting scans. The page, the API, the admin and the CI
endpoints all start scans through `scan_start`."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Team, User
from accounts.ratelimits import RateLimited, rate_limit_check
from config.api_errors import Conflict
from config.artifacts import artifacts_delete
from config.filtering import filtered_by
from scans.engine.flow import scan_advance, scan_enqueue_roots, scan_log
from scans.engine.readiness import graph_images_check
from scans.models import SCAN_TERMINAL, Scan, ScanStatus, ScanStep, StepStatus
from targets.items import Item
from targets.models import Target
from targets.scope import ScopeMatcher
from workflows.graph import (
    graph_entries,
    graph_normalize,
    graph_order,
    graph_parents,
    graph_validate,
)
from workflows.models import Workflow
from workflows.nodes import get_node_type, node_types
from workflows.services import workflow_create_from_template
from workflows.templates import template_get


class ScanRefused(ValidationError):
    """The scan cannot start; `message_dict` says why, per field."""


class ScanRateLimited(RateLimited):
    """Too many scan submissions from this account or address (RATE_LIMIT_SCAN)."""


@dataclass
class ScopeReport:
    items: list[Item] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def scan_submission_count(*, request: HttpRequest | None, user: User | None) -> None:
    """Count one scan submission against the client address and the account; raises
    ScanRateLimited when the limit (RATE_LIMIT_SCAN) is exceeded. Every way a person starts a
    scan (the New scan page, the builder's Run, the API, the image API, the admin) passes its
    request, so they share one counter; `request=None` is the system's own start (a schedule,
    bounded by its cron), which is not counted."""
    try:
        rate_limit_check(
            request, "scan", account=user.email if user else "", what="scans submitted"
        )
    except RateLimited as exc:
        raise ScanRateLimited(exc.wait, "scans submitted") from None


def targets_key_of(target_ids: list[int]) -> str:
    return hashlib.sha256(",".join(str(i) for i in sorted(set(target_ids))).encode()).hexdigest()


def scan_scope_check(*, team: Team, targets: list[Any]) -> ScopeReport:
    """Every item the scan starts from, with the scope verdict that decided it."""

    matcher = ScopeMatcher.for_team(team.pk)
    report = ScopeReport()
    for target in targets:
        if target.excluded:
            report.refused.append(f"{target.value}: is an exclusion, not a target")
            continue
        try:
            items = target.scan_items()
        except ValidationError as exc:
            report.refused.append(f"{target.value}: {' '.join(exc.messages)}")
            continue
        if not items:
            report.refused.append(
                f"{target.value}: gives nothing to scan (a wildcard needs its apex listed)"
            )
        for item in items:
            verdict = matcher.check(item)
            report.verdicts.append(
                {
                    "kind": item.kind,
                    "value": item.value,
                    "in_scope": verdict.in_scope,
                    "reason": verdict.reason,
                }
            )
            if verdict.in_scope:
                report.items.append(item)
            else:
                report.refused.append(f"{item.value}: {verdict.reason}")
    return report


def _node_commands(
    node_type: str, config: dict[str, Any], items: list[Item]
) -> list[dict[str, Any]]:

    runner = import_module(get_node_type(node_type).runner)
    accepted = getattr(runner, "ACCEPTS", None)
    usable = [i for i in items if accepted is None or i.kind in accepted]
    commands = getattr(runner, "commands", None)
    if commands is None or not usable:
        return []
    return [command.to_dict() for command in commands(config, usable)]


def scan_entries(graph: dict[str, Any], items: list[Item]) -> dict[str, list[Item]]:
    """Which targets each node receives: every target goes to the first nodes on each path that
    accept its kind (workflows.graph.graph_entries). Refuses, naming them, the targets that no
    node of the graph takes."""
    by_kind = graph_entries(graph)
    untaken = [item for item in items if not by_kind.get(item.kind)]
    if untaken:
        raise ScanRefused({"targets": [_untaken(item) for item in untaken]})
    entries: dict[str, list[Item]] = {}
    for item in items:
        for node_id in by_kind[item.kind]:
            entries.setdefault(node_id, []).append(item)
    return entries


def _untaken(item: Item) -> str:
    takers = sorted(
        t.type
        for t in node_types()
        if t.is_available
        and not t.passthrough
        and not t.consumes_findings
        and item.kind in t.accepts
    )
    hint = f" (add one of: {', '.join(takers)})" if takers else ""
    return f"{item.value}: no step of this workflow accepts {item.kind} targets{hint}"


def scan_plan(
    *,
    graph: dict[str, Any],
    parents: dict[str, list[str]],
    order: list[str],
    items: list[Item],
    verdicts: list[dict[str, Any]],
    entries: dict[str, list[Item]] | None = None,
) -> dict[str, Any]:
    """The dry-run plan: every step in `order`, the exact commands of the steps that receive
    targets (the first takers of each target's kind), and what later steps run on."""
    nodes = {node["id"]: node for node in graph["nodes"]}
    if entries is None:
        entries = scan_entries(graph, items)
    steps = []
    for node_id in order:
        node = nodes[node_id]
        entry: dict[str, Any] = {
            "node_id": node_id,
            "type": node["type"],
            "config": node.get("config", {}),
            "parents": parents[node_id],
        }
        given = entries.get(node_id, [])
        sources = []
        if given:
            kinds = ", ".join(sorted({item.kind for item in given}))
            sources.append(f"targets ({kinds})")
        if parents[node_id]:
            sources.append("items and findings from " + ", ".join(parents[node_id]))
        entry["input"] = " and ".join(sources) or "nothing (no target of a kind it accepts)"
        entry["commands"] = _node_commands(node["type"], node.get("config", {}), given)
        steps.append(entry)
    return {
        "steps": steps,
        "input_items": [item.to_dict() for item in items],
        "entries": {node_id: [i.to_dict() for i in given] for node_id, given in entries.items()},
        "scope": verdicts,
    }


def scan_start(
    *,
    team: Team,
    user: User | None,
    workflow: Any,
    target_ids: list[int],
    consent: bool,
    mode: str = Scan.Mode.RUN,
    source: str = Scan.Source.WORKFLOW,
    request: HttpRequest | None = None,
) -> Scan:
    """Start (or dry-run) `workflow` on the team's targets. Refuses without consent, with any
    target or item out of scope (each listed with its reason), or with an invalid graph.
    `request` is the submission a person made (counted against the scan rate limit, before
    anything else is checked: ScanRateLimited); None for schedules."""

    scan_submission_count(request=request, user=user)
    # Every problem of the request at once: a missing consent must not hide the rest.
    problems: dict[str, list[str]] = {}
    if not consent:
        problems["authorize_targets"] = ["Confirm that you are authorized to scan these targets."]
    if mode not in Scan.Mode.values:
        problems["mode"] = [f"Mode must be one of {', '.join(Scan.Mode.values)}."]
    if workflow is None or workflow.team_id != team.pk:
        problems["workflow"] = ["Unknown workflow."]
    ids = sorted({int(i) for i in target_ids})
    if not ids:
        problems["targets"] = ["Choose at least one target."]
    if problems:
        raise ScanRefused(problems)
    assert workflow is not None
    targets = list(Target.objects.filter(team=team, pk__in=ids))
    missing = sorted(set(ids) - {t.pk for t in targets})
    if missing:
        raise ScanRefused({"targets": [f"Unknown target id(s): {', '.join(map(str, missing))}."]})
    report = scan_scope_check(team=team, targets=targets)
    if report.refused:
        raise ScanRefused({"targets": [f"Out of scope — {reason}" for reason in report.refused]})
    return _scan_create(
        team=team, user=user, workflow=workflow, targets=targets, items=report.items,
        verdicts=report.verdicts, mode=mode, source=source, targets_key=targets_key_of(ids),
    )  # fmt: skip


def _scan_create(
    *,
    team: Team,
    user: User | None,
    workflow: Any,
    targets: list[Any],
    items: list[Item],
    verdicts: list[dict[str, Any]],
    mode: str,
    source: str,
    targets_key: str,
) -> Scan:

    errors = graph_validate(workflow.graph)
    if errors:
        raise ScanRefused({"graph": [str(error) for error in errors]})
    graph = graph_normalize(workflow.graph)
    parents = graph_parents(graph)
    order = graph_order(graph)
    entries = scan_entries(graph, items)
    plan = scan_plan(
        graph=graph, parents=parents, order=order, items=items, verdicts=verdicts, entries=entries
    )
    if mode == Scan.Mode.DRY_RUN:
        # Whether each container tool's image is there (or pullable) for the executor.
        plan["images"] = [check.to_dict() for check in graph_images_check(graph)]
    nodes = {node["id"]: node for node in graph["nodes"]}
    with transaction.atomic():
        scan = Scan.objects.create(
            team=team,
            workflow=workflow,
            workflow_name=workflow.name,
            workflow_revision=workflow.revision,
            graph=graph,
            target_snapshot=[{"id": t.pk, "kind": t.kind, "value": t.value} for t in targets],
            targets_key=targets_key,
            source=source,
            mode=mode,
            has_consent=True,
            requested_by=user,
            plan=plan,
        )
        scan.targets.set(targets)
        steps = [
            ScanStep(
                scan=scan,
                node_id=node_id,
                node_type=nodes[node_id]["type"],
                config=nodes[node_id].get("config", {}),
                parents=parents[node_id],
                position=position,
                max_attempts=settings.STEP_MAX_ATTEMPTS,
                timeout_s=_timeout_for(nodes[node_id].get("config", {})),
            )
            for position, node_id in enumerate(order)
        ]
        ScanStep.objects.bulk_create(steps)
        scan.steps_total = len(steps)
        scan.save(update_fields=["steps_total"])
        audit_record(
            {"dry_run": "scan.dry_run", "demo": "scan.demo"}.get(str(mode), "scan.started"),
            user=user,
            team=team,
            detail={
                "scan_id": scan.pk,
                "workflow_id": workflow.pk,
                "authorize_targets": True,
                "targets": [t.value for t in targets][:100],
            },
        )
        if mode == Scan.Mode.DRY_RUN:
            now = timezone.now()
            scan.steps.update(
                status=StepStatus.SKIPPED, error="dry run: nothing executed", finished_at=now
            )
            scan.status = ScanStatus.COMPLETED
            scan.started_at = scan.finished_at = now
            scan.steps_done = len(steps)
            scan.save(update_fields=["status", "started_at", "finished_at", "steps_done"])
            scan_log(scan.pk, "dry run: plan resolved, nothing executed")
        else:
            scan_log(
                scan.pk,
                f"{'demo scan' if mode == Scan.Mode.DEMO else 'scan'} started by "
                f"{user.email if user else 'system'} on {len(items)} item(s)"
                + (
                    " (synthetic results: no tool runs, nothing leaves this machine)"
                    if mode == Scan.Mode.DEMO
                    else ""
                ),
            )
            scan_enqueue_roots(scan)
    return scan


CONTAINER_AUDIT = "container-image-audit"


def _builtin_workflow(*, team: Team, user: User | None, template_key: str) -> Any:
    """The team's copy of a built-in template, made on first use and kept for later scans (so
    image scans of one image can be diffed)."""

    template = template_get(template_key)
    assert template is not None
    existing = Workflow.objects.filter(team=team, name=template.name).order_by("pk").first()
    if existing is not None:
        return existing
    return workflow_create_from_template(team=team, user=user, template_key=template_key)


def scan_start_image(
    *,
    team: Team,
    user: User | None,
    image: str,
    consent: bool = True,
    request: HttpRequest | None = None,
) -> Scan:
    """The CI image scan (`POST /api/v1/scan/docker`): the built-in "Container image audit"
    workflow on one image, which must be in scope (an `image` target or a `registry/org/*` one).
    `request` counts against the same scan rate limit as `scan_start`."""

    scan_submission_count(request=request, user=user)
    if not consent:
        raise ScanRefused(
            {"authorize_targets": ["Confirm that you are authorized to scan this image."]}
        )
    image = (image or "").strip()
    verdict = ScopeMatcher.for_team(team.pk).check_value("image", image)
    if not verdict.in_scope:
        raise ScanRefused(
            {
                "image": [
                    f"{image or 'empty image reference'} is not in scope: {verdict.reason}. Add it as an image target first."
                ]
            }
        )
    target = (
        Target.objects.filter(team=team, pk=verdict.target_id).first()
        if verdict.target_id
        else None
    )
    targets = [target] if target is not None else []
    workflow = _builtin_workflow(team=team, user=user, template_key=CONTAINER_AUDIT)
    item = Item("image", image)
    return _scan_create(
        team=team, user=user, workflow=workflow, targets=targets, items=[item],
        verdicts=[{"kind": "image", "value": image, "in_scope": True, "reason": verdict.reason}],
        mode=Scan.Mode.RUN, source=Scan.Source.DOCKER_API,
        targets_key=hashlib.sha256(f"image:{image}".encode()).hexdigest(),
    )  # fmt: skip


def _timeout_for(config: dict[str, Any]) -> int:
    requested = config.get("timeout_s") or settings.STEP_DEFAULT_TIMEOUT_S
    try:
        requested = int(requested)
    except (TypeError, ValueError):
        requested = settings.STEP_DEFAULT_TIMEOUT_S
    return max(1, min(requested, settings.STEP_MAX_TIMEOUT_S))


def scan_cancel(*, scan: Scan, user: User | None) -> Scan:
    """Stop a scan: queued steps are cancelled at once, running tools are stopped within ~1 s."""
    if scan.status in SCAN_TERMINAL:
        raise Conflict(f"Scan #{scan.pk} is already {scan.status}.")
    now = timezone.now()
    with transaction.atomic():
        Scan.objects.filter(pk=scan.pk, cancel_requested_at__isnull=True).update(
            cancel_requested_at=now
        )
        scan.steps.filter(status__in=[StepStatus.PENDING, StepStatus.QUEUED]).update(
            status=StepStatus.CANCELLED, finished_at=now, error="cancelled"
        )
        audit_record("scan.cancelled", user=user, team=scan.team, detail={"scan_id": scan.pk})
        scan_log(
            scan.pk, f"cancel requested by {user.email if user else 'system'}", level="warning"
        )
    scan_advance(scan.pk)
    scan.refresh_from_db()
    return scan


def scan_delete(*, scan: Scan, user: User | None) -> None:
    """Delete a scan with its steps, findings and artifact files. A running scan must be
    cancelled first."""
    if (
        scan.status not in SCAN_TERMINAL
        and scan.mode in (Scan.Mode.RUN, Scan.Mode.DEMO)
        and scan.status != ScanStatus.PENDING
    ):
        raise Conflict(f"Scan #{scan.pk} is {scan.status}; cancel it before deleting.")
    folder = settings.ARTIFACTS_DIR / f"scan-{scan.pk}"
    stored = [
        *scan.artifacts.values_list("path", flat=True),
        *scan.reports.exclude(path="").values_list("path", flat=True),
    ]
    audit_record("scan.deleted", user=user, team=scan.team, detail={"scan_id": scan.pk})
    scan.delete()
    # The stored files (in the shared bucket when there is one: every host sees the delete),
    # then what is left of the local work folder.
    artifacts_delete(stored, folder=f"scan-{scan.pk}")
    shutil.rmtree(folder, ignore_errors=True)


# A list filter's name -> the field lookup its value must equal.
SCAN_FILTERS = {
    "status": "status", "workflow": "workflow_id", "target": "targets__pk",
    "since": "created_at__gte", "until": "created_at__lt", "source": "source",
}  # fmt: skip


def scans_for(team: Team, **filters: Any) -> QuerySet[Scan]:
    """The team's scans, newest first, with optional filters (status, workflow, target, since, until)."""
    qs = Scan.objects.filter(team=team).select_related("workflow", "requested_by")
    qs = filtered_by(qs, filters, SCAN_FILTERS)
    return qs.order_by("-created_at", "-pk")
