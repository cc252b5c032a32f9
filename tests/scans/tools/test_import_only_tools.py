"""Tools Outpost only imports reports of (`imports_only`: naabu, dirsearch, … until they get a
runner) are offered for import, never in the builder's palette, and a workflow cannot use them."""

from __future__ import annotations

from typing import Any

from workflows.graph import graph_validate

IMPORTS_ONLY = {"naabu", "dirsearch"}


def test_they_are_import_tools_and_not_node_types(owner_api: Any) -> None:
    catalogue = {node["type"] for node in owner_api.get("/api/v1/workflows/node-types").json()}
    tools = {row["tool"] for row in owner_api.get("/api/v1/scans/import/tools").json()}

    assert not (IMPORTS_ONLY & catalogue)
    assert tools >= IMPORTS_ONLY
    assert {"nmap", "trivy"} <= catalogue & tools


def test_a_tool_with_a_runner_is_both_a_node_type_and_an_import_tool(owner_api: Any) -> None:
    catalogue = {node["type"] for node in owner_api.get("/api/v1/workflows/node-types").json()}
    tools = {row["tool"] for row in owner_api.get("/api/v1/scans/import/tools").json()}

    assert {"ffuf", "sslscan", "whatweb", "testssl", "masscan", "gobuster"} <= catalogue & tools


def test_a_workflow_using_one_is_refused_naming_it() -> None:
    graph = {"nodes": [{"id": "n", "type": "naabu", "config": {}}], "edges": []}

    errors = graph_validate(graph)

    assert errors and "naabu" in str(errors[0]) and "does not run" in str(errors[0])
