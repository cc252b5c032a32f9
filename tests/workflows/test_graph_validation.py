from __future__ import annotations

from typing import Any

import pytest

from workflows.graph import MAX_NODES, graph_normalize, graph_order, graph_parents, graph_validate

pytestmark = pytest.mark.smoke


def node(
    node_id: str, kind: str, config: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "config": config or {}, "x": 0, "y": 0, **extra}


def graph(*nodes: dict[str, Any], edges: list[tuple[str, str]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {"nodes": list(nodes), "edges": [{"from": a, "to": b} for a, b in edges]}


def errors_of(g: Any, **kwargs: Any) -> list[tuple[str | None, str | None, str]]:
    return [(e.node, e.field, e.message) for e in graph_validate(g, **kwargs)]


def only_error(g: Any) -> tuple[str | None, str | None, str]:
    found = errors_of(g)
    assert len(found) == 1, found
    return found[0]


def test_a_valid_chain_has_no_errors() -> None:
    g = graph(
        node("ports", "port_scan", {"ports": "22,80"}),
        node("wait", "delay"),
        edges=[("ports", "wait")],
    )
    assert errors_of(g) == []


def test_it_refuses_what_is_not_a_graph() -> None:
    assert only_error([1, 2]) == (None, "graph", "must be an object with nodes and edges")
    assert only_error({"nodes": "x"}) == (None, "nodes", "must be a list of nodes")
    found = errors_of({"nodes": [], "edges": [], "owner": 1})
    assert (None, "owner", "unknown key (a graph has nodes and edges)") in found


def test_an_empty_graph_needs_a_root_but_can_be_saved_as_a_draft() -> None:
    (error,) = graph_validate(graph())
    assert (error.node, error.field) == (None, "nodes") and "at least one node" in error.message
    assert error.draft_ok


def test_node_ids_must_be_safe_and_unique() -> None:
    assert only_error(graph(node("<b>", "delay")))[:2] == ("#1", "id")
    assert only_error(graph(node("a", "delay"), node("a", "delay"))) == (
        "a",
        "id",
        "is used by another node",
    )


def test_an_unknown_type_names_the_node_and_field() -> None:
    assert only_error(graph(node("x", "rm_rf"))) == ("x", "type", "unknown node type 'rm_rf'")


def test_an_unavailable_type_is_refused_with_the_reason(settings) -> None:
    settings.GRYPE_ENABLED = False
    node_id, field, message = only_error(graph(node("g", "grype")))
    assert (node_id, field) == ("g", "type") and "GRYPE_ENABLED" in message


@pytest.mark.parametrize(
    "kind, config, field, message",
    [
        ("delay", {"seconds": 0}, "seconds", "must be at least 1"),
        ("delay", {"seconds": 86401}, "seconds", "must be at most 86400"),
        ("delay", {"seconds": "10"}, "seconds", "must be a whole number"),
        ("delay", {"seconds": True}, "seconds", "must be a whole number"),
        ("delay", {"minutes": 1}, "minutes", "unknown config field for delay (known: seconds)"),
        ("condition", {"min_severity": "urgent"}, "min_severity", "must be one of info, low, medium, high, critical"),
        ("condition", {"ports": "x" * 201}, "ports", "must be at most 200 characters"),
        ("condition", {"ports": "80,http"}, "ports", "'http' is not a port or a range like 8000-8100"),
        ("condition", {"item_kinds": "cookie"}, "item_kinds", "unknown item kind cookie (known: host, service, url, image, repo)"),
        ("rules", {"rules": [{"field": "title", "regex": "(a+)+", "action": "drop"}]}, "rules[0].regex",
         "a quantifier may not apply to a group with a quantifier or | inside"),
        ("rules", {"rules": [{"field": "title", "regex": "x", "action": "set_severity", "value": "urgent"}]},
         "rules[0].value", "set_severity needs one of critical, high, medium, low, info"),
        ("rules", {"rules": [{"field": "password", "regex": "x", "action": "drop"}]}, "rules[0].field",
         "must be one of severity, title, rule_id, component, location, tool"),
        ("rules", {"rules": [{"regex": "x", "action": "drop", "when": 1}]}, "rules[0].when", "unknown field"),
    ],
)  # fmt: skip
def test_a_bad_config_value_names_the_node_and_the_field(
    kind: str, config: dict, field: str, message: str
) -> None:
    assert only_error(graph(node("n1", kind, config))) == ("n1", field, message)


def test_a_builtin_runners_own_field_check_is_applied() -> None:
    node_id, field, _ = only_error(graph(node("ports", "port_scan", {"ports": "lots"})))
    assert (node_id, field) == ("ports", "ports")


def test_positions_and_labels_are_checked() -> None:
    assert only_error(graph(node("a", "delay", x="left")))[:2] == ("a", "x")
    assert only_error(graph(node("a", "delay", y=float("inf"))))[:2] == ("a", "y")
    assert only_error(graph(node("a", "delay", label="x" * 81)))[:2] == ("a", "label")
    assert only_error(graph(node("a", "delay", colour="red")))[:2] == ("a", "colour")


def test_edges_must_join_two_existing_distinct_nodes_once() -> None:
    a, b = node("a", "delay"), node("b", "delay")
    assert only_error(graph(a, edges=[("a", "zz")])) == (
        "zz",
        "edges",
        "edge a → zz: there is no node 'zz'",
    )
    assert only_error(graph(a, edges=[("a", "a")])) == (
        "a",
        "edges",
        "edge a → a: a node cannot feed itself",
    )
    assert only_error(graph(a, b, edges=[("a", "b"), ("a", "b")])) == (
        "b",
        "edges",
        "edge a → b is there twice",
    )


def test_a_cycle_is_refused_naming_its_nodes_and_the_closing_edge() -> None:
    g = graph(node("root", "delay"), node("a", "delay"), node("b", "delay"), node("c", "delay"),
              edges=[("root", "a"), ("a", "b"), ("b", "c"), ("c", "a")])  # fmt: skip
    (error,) = graph_validate(g)
    assert error.field == "edges"
    assert (
        "a → b → c → a" in error.message
        or "b → c → a → b" in error.message
        or "c → a → b → c" in error.message
    )
    assert error.edge is not None and {"from": error.edge[0], "to": error.edge[1]} in g["edges"]


def test_an_image_emitting_node_cannot_feed_port_scan() -> None:
    g = graph(node("images", "trivy"), node("ports", "port_scan"), edges=[("images", "ports")])
    (error,) = graph_validate(g)
    assert (error.node, error.field, error.edge) == ("ports", "edges", ("images", "ports"))
    assert error.message.startswith("edge images → ports: port_scan accepts host, trivy emits ")


def test_logic_nodes_pass_on_only_what_they_receive() -> None:
    g = graph(node("images", "trivy"), node("high", "condition"), node("ports", "port_scan"),
              edges=[("images", "high"), ("high", "ports")])  # fmt: skip
    (error,) = graph_validate(g)
    assert (error.node, error.edge) == ("ports", ("high", "ports"))
    assert "condition emits" in error.message


def test_findings_consumers_follow_any_node() -> None:
    g = graph(
        node("images", "trivy"),
        node("high", "condition", {"min_severity": "high"}),
        edges=[("images", "high")],
    )
    assert errors_of(g) == []


def test_a_root_must_accept_something_a_target_gives(service_only_type: str) -> None:
    (error,) = graph_validate(graph(node("first", service_only_type)))
    assert (error.node, error.field) == ("first", "type")
    assert error.message.startswith("svc_only cannot start a workflow: it accepts service")
    assert error.draft_ok  # a graph is built one node at a time: saved, not runnable
    fed = graph(
        node("ports", "port_scan"), node("first", service_only_type), edges=[("ports", "first")]
    )
    assert errors_of(fed) == []


def test_there_is_a_limit_on_the_number_of_nodes() -> None:
    g = graph(*(node(f"n{i}", "delay") for i in range(MAX_NODES + 1)))
    assert only_error(g) == (None, "nodes", f"at most {MAX_NODES} nodes (got {MAX_NODES + 1})")


def test_normalize_applies_defaults_in_schema_order_and_is_idempotent() -> None:
    g = graph(
        node("wait", "delay", x=10.4, y=20.6),
        node("c", "condition", {"ports": "443", "min_severity": "high"}, label="Only TLS"),
    )
    once = graph_normalize(g)
    assert once["nodes"][0] == {
        "id": "wait",
        "type": "delay",
        "config": {"seconds": 60},
        "x": 10,
        "y": 21,
    }
    assert once["nodes"][1]["config"] == {
        "min_severity": "high",
        "min_count": 1,
        "item_kinds": "",
        "ports": "443",
    }
    assert once["nodes"][1]["label"] == "Only TLS"
    assert graph_normalize(once) == once


def test_order_and_parents_for_the_engine() -> None:
    g = graph(node("d", "delay"), node("a", "delay"), node("b", "delay"), node("c", "delay"),
              edges=[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])  # fmt: skip
    assert graph_parents(g) == {"d": ["b", "c"], "a": [], "b": ["a"], "c": ["a"]}
    assert graph_order(g) == ["a", "b", "c", "d"]
