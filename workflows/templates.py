"""Built-in workflow templates every team can start from. They are code, not rows: a team gets
its own copy (`workflow_create_from_template`) and edits that."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from workflows.graph import GraphError, graph_normalize, graph_validate


def _chain(*types: str, y: int = 60) -> dict[str, Any]:
    nodes = [
        {"id": kind.replace("_", "-"), "type": kind, "config": {}, "x": 60 + 220 * i, "y": y}
        for i, kind in enumerate(types)
    ]
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"nodes": nodes, "edges": edges}


def _quick_recon() -> dict[str, Any]:
    return _chain("dns_resolve", "port_scan", "http_probe", "tls_inspect")


def _web_exposure() -> dict[str, Any]:
    graph = _chain("dns_resolve", "port_scan", "http_probe", "nuclei")
    graph["nodes"].append(
        {"id": "tls-inspect", "type": "tls_inspect", "config": {}, "x": 720, "y": 170}
    )
    graph["edges"].append({"from": "http-probe", "to": "tls-inspect"})
    return graph


def _subdomain_recon() -> dict[str, Any]:
    return _chain("subdomains", "dns_resolve")


def _web_branches(graph: dict[str, Any], x: int) -> dict[str, Any]:
    """The web servers http_probe found, also to a TLS inspection and screenshots (a row below
    the chain, from `x`) and straight to the crawl: it starts from their pages as well as from
    the paths content discovery found."""
    graph["nodes"] += [
        {"id": "tls-inspect", "type": "tls_inspect", "config": {}, "x": x, "y": 170},
        {"id": "screenshot", "type": "screenshot", "config": {}, "x": x + 220, "y": 170},
    ]
    graph["edges"] += [
        {"from": "http-probe", "to": "tls-inspect"},
        {"from": "http-probe", "to": "crawl"},
        {"from": "http-probe", "to": "screenshot"},
    ]
    return graph


def _web_app_mapping() -> dict[str, Any]:
    return _web_branches(_chain("http_probe", "content_discovery", "crawl"), 280)


def _full_recon() -> dict[str, Any]:
    """Built-in steps only, so it runs on the embedded default without Docker: technologies come
    from http_probe's headers; container tools are added in the builder where their images are."""
    graph = _chain(
        "subdomains", "dns_resolve", "port_scan", "http_probe", "content_discovery", "crawl"
    )
    return _web_branches(graph, 720)


def _full_recon_containers() -> dict[str, Any]:
    """The same chain with the container tools where Docker runs them: technologies (WhatWeb),
    WAFs (wafw00f), TLS audits (sslscan) and content discovery (ffuf), then the crawl,
    screenshots and nuclei."""
    graph = _chain("subdomains", "dns_resolve", "port_scan", "http_probe", "ffuf", "crawl")
    for row, kind in enumerate(("whatweb", "wafw00f", "sslscan", "screenshot", "nuclei")):
        graph["nodes"].append(
            {"id": kind, "type": kind, "config": {}, "x": 940, "y": 170 + 110 * row}
        )
        graph["edges"].append({"from": "http-probe", "to": kind})
    graph["edges"].append({"from": "http-probe", "to": "crawl"})
    return graph


def _container_image_audit() -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "trivy", "type": "trivy", "config": {}, "x": 60, "y": 60}]
    if settings.GRYPE_ENABLED:
        nodes.append({"id": "grype", "type": "grype", "config": {}, "x": 60, "y": 170})
    return {"nodes": nodes, "edges": []}


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    description: str
    build: Callable[[], dict[str, Any]]

    def graph(self) -> dict[str, Any]:
        """The template's graph, normalized when it is valid on this server."""
        raw = self.build()
        return graph_normalize(raw) if not graph_validate(raw) else raw

    def errors(self) -> list[GraphError]:
        return graph_validate(self.build())


TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "quick-recon",
            "Quick recon",
            "Resolve names, find open ports, probe the web servers and inspect their TLS.",
            _quick_recon,
        ),
        Template(
            "web-exposure",
            "Web exposure",
            "Find web servers on the targets and run nuclei's checks and TLS inspection on them.",
            _web_exposure,
        ),
        Template(
            "subdomain-recon",
            "Subdomain recon",
            "Find the names under a domain (wordlist, zone transfer, SRV, permutations, "
            "passive sources when enabled) and resolve them.",
            _subdomain_recon,
        ),
        Template(
            "web-app-mapping",
            "Web app mapping",
            "Probe web servers, find their hidden paths with a calibrated wordlist, crawl their "
            "links, scripts, robots.txt and sitemap, inspect their TLS and take screenshots.",
            _web_app_mapping,
        ),
        Template(
            "full-recon",
            "Full recon",
            "From a domain to its web apps with built-in steps only (runs without Docker): "
            "subdomains, resolution, ports, HTTP probe, TLS, content discovery, crawl and "
            "screenshots (skipped, with the reason, where Chromium is not installed).",
            _full_recon,
        ),
        Template(
            "full-recon-containers",
            "Full recon (containers)",
            "From a domain to its web apps with the container tools (needs Docker): subdomains, "
            "resolution, ports, HTTP probe, WhatWeb, wafw00f, sslscan, ffuf, crawl, screenshots "
            "and nuclei.",
            _full_recon_containers,
        ),
        Template(
            "container-image-audit",
            "Container image audit",
            "Known vulnerabilities in container images: Trivy, plus Grype when it is enabled.",
            _container_image_audit,
        ),
    )
}


def template_get(key: str) -> Template | None:
    return TEMPLATES.get(key)


def template_graph(key: str) -> dict[str, Any]:
    """The graph of a built-in template (KeyError for an unknown key); used by the CI image
    scan endpoint for its built-in container-image workflow."""
    return TEMPLATES[key].graph()
