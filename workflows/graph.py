"""The workflow graph: its format, its validation and the orders the engine needs.

```json
{"nodes": [{"id": "ports", "type": "port_scan", "label": "Top ports", "config": {"ports": "top-100"},
            "x": 120, "y": 80}, ...],
 "edges": [{"from": "ports", "to": "web"}, ...]}
```
`label` is optional (the node type's label is shown without it). Items flow along edges: an edge
is valid when its source can emit an item kind its target accepts, or when the target works on
findings (logic, alert and report nodes). Logic nodes pass on what they receive, so the kinds
they emit are worked out through the graph: `trivy → condition → port_scan` is refused too.

The same checks serve the API, the builder, the admin, imports and scan start.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from targets.items import ITEM_KINDS
from workflows.node_config import REQUIRED, config_errors, config_normalize
from workflows.nodes import NodeType, node_type

MAX_NODES = 100
MAX_EDGES = 400
MAX_LABEL_LENGTH = 80
MAX_COORDINATE = 100_000
NODE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NODE_KEYS = ("id", "type", "label", "config", "x", "y")
EDGE_KEYS = ("from", "to")
GRAPH_KEYS = ("nodes", "edges")
# What a scan's targets become: domains/IPs/CIDRs are hosts, the rest keep their kind.
TARGET_ITEM_KINDS = frozenset({"host", "url", "image", "repo"})


@dataclass(frozen=True)
class GraphError:
    """One problem, named by node (None: the whole graph) and field (None: the whole node).

    `draft_ok` problems (no node yet, a first node that cannot take targets, a required config
    value not given yet) make a graph not runnable but do not stop it being saved: a graph is
    built one node at a time."""

    node: str | None
    field: str | None
    message: str
    edge: tuple[str, str] | None = None
    draft_ok: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"node": self.node, "field": self.field, "message": self.message}
        if self.edge is not None:
            data["edge"] = {"from": self.edge[0], "to": self.edge[1]}
        return data

    def __str__(self) -> str:
        where = ".".join(p for p in (self.node, self.field) if p)
        return f"{where}: {self.message}" if where else self.message


def _kinds(kinds: frozenset[str] | set[str]) -> str:
    return ", ".join(sorted(kinds, key=ITEM_KINDS.index)) or "nothing"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Checker:
    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.errors: list[GraphError] = []
        self.types: dict[str, NodeType | None] = {}  # node id -> its usable type (None: unusable)
        self.edges: list[tuple[str, str]] = []
        # node id -> the item kinds it hands on here (None: unknown, an unusable node)
        self.emitted: dict[str, frozenset[str] | None] = {}

    def error(
        self,
        node: str | None,
        field: str | None,
        message: str,
        edge: tuple[str, str] | None = None,
        *,
        draft_ok: bool = False,
    ) -> None:
        self.errors.append(GraphError(node, field, message, edge, draft_ok))

    def run(self) -> list[GraphError]:
        graph = self.graph
        if not isinstance(graph, dict):
            self.error(None, "graph", "must be an object with nodes and edges")
            return self.errors
        for key in graph:
            if key not in GRAPH_KEYS:
                self.error(None, str(key), "unknown key (a graph has nodes and edges)")
        nodes, edges = graph.get("nodes"), graph.get("edges", [])
        if not isinstance(nodes, list):
            self.error(None, "nodes", "must be a list of nodes")
            return self.errors
        if not isinstance(edges, list):
            self.error(None, "edges", "must be a list of edges")
            return self.errors
        if len(nodes) > MAX_NODES:
            self.error(None, "nodes", f"at most {MAX_NODES} nodes (got {len(nodes)})")
            return self.errors
        if len(edges) > MAX_EDGES:
            self.error(None, "edges", f"at most {MAX_EDGES} edges (got {len(edges)})")
            return self.errors
        for index, node in enumerate(nodes):
            self.check_node(index, node)
        for edge in edges:
            self.check_edge(edge)
        order = self.check_cycles()
        if order is not None:
            self.check_kinds(order)
        self.check_roots()
        return self.errors

    def check_node(self, index: int, node: Any) -> None:
        if not isinstance(node, dict):
            self.error(f"#{index + 1}", None, "a node must be an object")
            return
        node_id = node.get("id")
        if not isinstance(node_id, str) or not NODE_ID_RE.match(node_id):
            self.error(f"#{index + 1}", "id", "must be 1-64 letters, digits, _ or -")
            return
        if node_id in self.types:
            self.error(node_id, "id", "is used by another node")
            return
        self.types[node_id] = None
        for key in node:
            if key not in NODE_KEYS:
                self.error(node_id, str(key), f"unknown key (a node has {', '.join(NODE_KEYS)})")
        for axis in ("x", "y"):
            value = node.get(axis, 0)
            if not _is_number(value) or abs(value) > MAX_COORDINATE:
                self.error(
                    node_id,
                    axis,
                    f"must be a number between -{MAX_COORDINATE} and {MAX_COORDINATE}",
                )
        label = node.get("label", "")
        if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH:
            self.error(node_id, "label", f"must be text of at most {MAX_LABEL_LENGTH} characters")
        kind = node.get("type")
        registered = node_type(kind) if isinstance(kind, str) else None
        if registered is None:
            self.error(node_id, "type", f"unknown node type {kind!r}")
            return
        reason = registered.unavailable_reason
        if reason:
            self.error(node_id, "type", reason)
            return
        problems = config_errors(registered, node.get("config", {}))
        for field, message in problems.items():
            # A value still to be given (an alert node's integration) stops a run, not a save.
            self.error(node_id, field, message, draft_ok=message == REQUIRED)
        self.types[node_id] = registered

    def check_edge(self, edge: Any) -> None:
        if not isinstance(edge, dict):
            self.error(None, "edges", "an edge must be an object with from and to")
            return
        source, target = edge.get("from"), edge.get("to")
        if not isinstance(source, str) or not isinstance(target, str):
            self.error(None, "edges", "an edge needs from and to node ids")
            return
        pair = (source, target)
        unknown = [key for key in edge if key not in EDGE_KEYS]
        if unknown:
            self.error(target, "edges", f"edge {source} → {target}: unknown key {unknown[0]}", pair)
        for end in (source, target):
            if end not in self.types:
                self.error(
                    end, "edges", f"edge {source} → {target}: there is no node {end!r}", pair
                )
        if source not in self.types or target not in self.types:
            return
        if source == target:
            self.error(
                source, "edges", f"edge {source} → {target}: a node cannot feed itself", pair
            )
            return
        if pair in self.edges:
            self.error(target, "edges", f"edge {source} → {target} is there twice", pair)
            return
        self.edges.append(pair)

    def check_cycles(self) -> list[str] | None:
        sorter: TopologicalSorter[str] = TopologicalSorter({node: () for node in self.types})
        for source, target in self.edges:
            sorter.add(target, source)
        try:
            return list(sorter.static_order())
        except CycleError as exc:
            cycle: list[str] = list(exc.args[1])  # [a, b, c, a]: a → b → c → a
            self.error(
                cycle[0],
                "edges",
                f"cycle: {' → '.join(cycle)} (a workflow must not loop)",
                (cycle[-2], cycle[-1]),
            )
            return None

    def check_kinds(self, order: list[str]) -> None:
        """Walk the graph in order, working out what each node emits, and check every edge."""
        parents: dict[str, list[str]] = {node: [] for node in order}
        for source, target in self.edges:
            parents[target].append(source)
        emitted = self.emitted
        for node in order:
            kind = self.types[node]
            if kind is None:
                emitted[node] = None
                continue
            if not kind.passthrough:
                emitted[node] = kind.emits
            else:
                upstream: set[str] = set() if parents[node] else set(TARGET_ITEM_KINDS)
                for parent in parents[node]:
                    got = emitted[parent]
                    upstream |= got if got is not None else set(ITEM_KINDS)
                emitted[node] = frozenset(upstream) & kind.emits & kind.accepts
        for source, target in self.edges:
            source_type, target_type = self.types[source], self.types[target]
            got = emitted[source]
            if (
                source_type is None
                or target_type is None
                or got is None
                or target_type.consumes_findings
            ):
                continue
            if not got & target_type.accepts:
                self.error(
                    target,
                    "edges",
                    f"edge {source} → {target}: {target_type.type} accepts {_kinds(target_type.accepts)}, "
                    f"{source_type.type} emits {'none of them' if got else 'no items'}"
                    + (
                        f" (it passes on {_kinds(got)} here)"
                        if source_type.passthrough and got
                        else ""
                    ),
                    (source, target),
                )

    def check_roots(self) -> None:
        if not self.types:
            if not self.graph["nodes"]:
                self.error(
                    None,
                    "nodes",
                    "the workflow needs at least one node (a root receives the targets)",
                    draft_ok=True,
                )
            return
        has_parent = {target for _, target in self.edges}
        roots = [node for node in self.types if node not in has_parent]
        if not roots and not any(e.field == "edges" and "cycle" in e.message for e in self.errors):
            self.error(
                None, "nodes", "the workflow needs at least one root node (one without inputs)"
            )
        for root in roots:
            kind = self.types[root]
            if kind is not None and not kind.accepts & TARGET_ITEM_KINDS:
                self.error(
                    root,
                    "type",
                    f"{kind.type} cannot start a workflow: it accepts {_kinds(kind.accepts)}, targets give "
                    f"{_kinds(TARGET_ITEM_KINDS)}; connect a node before it",
                    draft_ok=True,
                )


def graph_validate(graph: Any) -> list[GraphError]:
    """Every problem of a graph, each naming its node and field; empty when it can run.
    Saving refuses all but the `draft_ok` ones (see GraphError)."""
    return _Checker(graph).run()


def graph_node_kinds(graph: Any) -> dict[str, dict[str, Any]]:
    """What each node of a (possibly unfinished) graph takes and hands on, as the validator sees
    it: `accepts`, `emits` (a logic node's are what reaches it here) and `findings` (it works on
    findings, so any node may feed it). The builder colours ports and offers connections from
    this, so the canvas cannot promise an edge the validator refuses."""
    checker = _Checker(graph)
    checker.run()
    kinds: dict[str, dict[str, Any]] = {}
    for node, kind in checker.types.items():
        if kind is None:
            continue
        emitted = checker.emitted.get(node, kind.emits if not kind.passthrough else None)
        kinds[node] = {
            "accepts": sorted(kind.accepts, key=ITEM_KINDS.index),
            "emits": sorted(emitted if emitted is not None else kind.emits, key=ITEM_KINDS.index),
            "findings": kind.consumes_findings,
            "passthrough": kind.passthrough,
        }
    return kinds


def graph_connectable(graph: dict[str, Any], source: str) -> list[str]:
    """The nodes `source` can be connected to without the validator refusing the edge: the
    kinds fit, the edge is new, and it closes no loop."""
    kinds = graph_node_kinds(graph)
    if source not in kinds:
        return []
    children: dict[str, list[str]] = {}
    for edge in graph.get("edges", []):
        children.setdefault(edge.get("from"), []).append(edge.get("to"))
    # A node that reaches `source` would make a loop.
    reaches_source = {source}
    changed = True
    while changed:
        changed = False
        for parent, targets in children.items():
            if parent not in reaches_source and any(t in reaches_source for t in targets):
                reaches_source.add(parent)
                changed = True
    emits = set(kinds[source]["emits"])
    candidates = [
        node
        for node, info in kinds.items()
        if node not in reaches_source
        and node not in children.get(source, [])
        and (info["findings"] or emits & set(info["accepts"]))
    ]
    # A new input changes what a logic node hands on, which can break the edges after it:
    # those candidates are checked by validating the graph with the edge added.
    before = {str(e) for e in graph_validate(graph) if not e.draft_ok}
    return [
        node
        for node in candidates
        if not kinds[node]["passthrough"]
        or not {
            str(e)
            for e in graph_validate(
                {**graph, "edges": [*graph.get("edges", []), {"from": source, "to": node}]}
            )
            if not e.draft_ok
        }
        - before
    ]


def graph_normalize(graph: dict[str, Any]) -> dict[str, Any]:
    """A valid graph in canonical form: defaults applied, keys in a fixed order, coordinates
    rounded to whole pixels. Idempotent, so export → import → export is exact."""
    nodes = []
    for node in graph.get("nodes", []):
        kind = node_type(node["type"])
        assert kind is not None  # validated
        canonical: dict[str, Any] = {"id": node["id"], "type": node["type"]}
        if node.get("label"):
            canonical["label"] = node["label"]
        canonical["config"] = config_normalize(kind, node.get("config") or {})
        canonical["x"] = round(node.get("x", 0))
        canonical["y"] = round(node.get("y", 0))
        nodes.append(canonical)
    edges = [{"from": edge["from"], "to": edge["to"]} for edge in graph.get("edges", [])]
    return {"nodes": nodes, "edges": edges}


def _config_ordered(kind_name: Any, config: dict[str, Any]) -> dict[str, Any]:
    kind = node_type(kind_name) if isinstance(kind_name, str) else None
    specs = kind.config_fields if kind is not None and kind.is_available else []
    ordered: dict[str, Any] = {}
    for spec in specs:
        if spec.name not in config:
            continue
        value = config[spec.name]
        if spec.type == "list" and isinstance(value, list):
            names = [f.name for f in spec.fields]
            value = [
                {
                    **{n: r[n] for n in names if n in r},
                    **{k: r[k] for k in sorted(r) if k not in names},
                }
                if isinstance(r, dict)
                else r
                for r in value
            ]
        ordered[spec.name] = value
    ordered.update({k: config[k] for k in sorted(config) if k not in ordered})
    return ordered


def graph_ordered(graph: dict[str, Any]) -> dict[str, Any]:
    """The same graph with its keys in the canonical order. PostgreSQL's jsonb does not keep
    key order, so a graph read back from the database is put in order before it is exported or
    shown (exports must be byte-for-byte stable)."""
    nodes = []
    for node in graph.get("nodes", []):
        ordered = {k: node[k] for k in ("id", "type", "label") if k in node}
        ordered["config"] = _config_ordered(node.get("type"), node.get("config") or {})
        ordered.update({k: node[k] for k in ("x", "y") if k in node})
        ordered.update({k: v for k, v in node.items() if k not in ordered})
        nodes.append(ordered)
    edges = [{"from": e.get("from"), "to": e.get("to")} for e in graph.get("edges", [])]
    return {"nodes": nodes, "edges": edges}


def graph_parents(graph: dict[str, Any]) -> dict[str, list[str]]:
    """Node id -> the ids of the nodes feeding it, in graph order (roots map to [])."""
    parents: dict[str, list[str]] = {node["id"]: [] for node in graph.get("nodes", [])}
    for edge in graph.get("edges", []):
        parents[edge["to"]].append(edge["from"])
    return parents


def graph_order(graph: dict[str, Any]) -> list[str]:
    """Node ids in a topological order (parents first); ties keep the graph's node order."""
    parents = graph_parents(graph)
    position = {node: index for index, node in enumerate(parents)}
    sorter: TopologicalSorter[str] = TopologicalSorter(parents)
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def graph_entries(graph: dict[str, Any]) -> dict[str, list[str]]:
    """Where a scan's targets enter a valid graph, per item kind: the nodes that accept the kind
    and have no ancestor that accepts it (the first taker on every path). A URL target of
    `dns_resolve → port_scan → http_probe → nuclei` enters at http_probe, not at the root that
    cannot read it; nuclei gets it from http_probe. A kind with no entry is taken by no node."""
    parents = graph_parents(graph)
    types = {node["id"]: node_type(node["type"]) for node in graph.get("nodes", [])}
    accepts = {node: kind.accepts if kind else frozenset() for node, kind in types.items()}
    ancestors: dict[str, set[str]] = {}
    for node in graph_order(graph):
        ancestors[node] = set().union(set(), *[{p, *ancestors[p]} for p in parents[node]])
    return {
        kind: [
            node
            for node in graph_order(graph)
            if kind in accepts[node] and not any(kind in accepts[a] for a in ancestors[node])
        ]
        for kind in ITEM_KINDS
    }
