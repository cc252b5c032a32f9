"""Did the scan cover its targets? Each target goes to the steps that take its kind first
(`scan.plan["entries"]`, scans.services.scan_entries); it is covered when at least one of them
completed with it in scope. A target whose steps were skipped, failed, cancelled or dropped it as
out of scope is not, and the scan page and the API's `coverage` say which and why."""

from __future__ import annotations

from typing import Any

from scans.models import Scan, ScanStep, StepStatus

PENDING = {StepStatus.PENDING, StepStatus.QUEUED, StepStatus.RUNNING}


def scan_coverage(scan: Scan, steps: list[ScanStep] | None = None) -> dict[str, Any]:
    """{"state": "complete" | "partial" | "pending" | "planned", "uncovered": n, "targets": [{kind,
    value, covered (bool, None while pending), steps: [node ids], reason}]}."""
    plan = scan.plan or {}
    items = plan.get("input_items") or []
    steps = steps if steps is not None else list(scan.steps.all())
    by_node = {step.node_id: step for step in steps}
    if "entries" in plan:
        receivers: dict[tuple[str, str], list[str]] = {}
        for node_id, given in plan["entries"].items():
            for raw in given:
                receivers.setdefault((raw["kind"], raw["value"]), []).append(node_id)
    else:  # planned before entries: the roots got every target
        roots = [s.node_id for s in steps if not s.parents]
        receivers = {(raw["kind"], raw["value"]): roots for raw in items}
    targets = []
    for raw in items:
        nodes = receivers.get((raw["kind"], raw["value"]), [])
        targets.append(_target(raw, [by_node[n] for n in nodes if n in by_node], scan))
    if scan.mode == Scan.Mode.DRY_RUN:
        state = "planned"
    elif any(t["covered"] is None for t in targets):
        state = "pending"
    else:
        state = "complete" if all(t["covered"] for t in targets) else "partial"
    return {
        "state": state,
        "uncovered": sum(1 for t in targets if t["covered"] is False),
        "targets": targets,
    }


def _target(raw: dict[str, Any], steps: list[ScanStep], scan: Scan) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": raw["kind"],
        "value": raw["value"],
        "steps": [s.node_id for s in steps],
        "covered": None,
        "reason": "",
    }
    if scan.mode == Scan.Mode.DRY_RUN:
        entry["reason"] = "dry run: nothing executed"
        return entry
    if not steps:
        entry["covered"] = False
        entry["reason"] = "no step of the workflow took it"
        return entry
    reasons = []
    for step in steps:
        dropped = next((d for d in step.out_of_scope or [] if d.get("value") == raw["value"]), None)
        if step.status == StepStatus.COMPLETED and dropped is None:
            entry["covered"] = True
            entry["reason"] = ""
            return entry
        if step.status in PENDING:
            continue
        if dropped is not None:
            reasons.append(f"{step.node_id} dropped it as out of scope: {dropped.get('reason')}")
        else:
            reasons.append(
                f"{step.node_id} {step.status}" + (f": {step.error}" if step.error else "")
            )
    if len(reasons) < len(steps):
        return entry  # a step that takes it has not ended yet
    entry["covered"] = False
    entry["reason"] = "; ".join(reasons)[:1000]
    return entry
