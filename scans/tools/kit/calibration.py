"""Calibrating web content discovery against catch-all answers: what a server answers for paths
that cannot exist (a soft 404 page, a redirect to a login page, a 200 for everything).

The built-in content_discovery and the gobuster runner request a few random paths under a base
URL before their wordlist; each path is scope-checked first (one that is not is never
requested), and the requests go through the step's connect guard like every other request of
theirs. What the answers look like decides what the wordlist's answers are compared with."""

from __future__ import annotations

from urllib.parse import urljoin

from scans.engine.runtime import StepContext
from scans.tools.kit.dns_bulk import random_label
from scans.tools.kit.web_fetch import Page, fetch_pages
from targets.items import Item


def random_paths(*lengths: int) -> list[str]:
    """Paths no site has on purpose, one per length (lowercase letters and digits)."""
    return [random_label(length) for length in lengths]


def probe_pages(
    ctx: StepContext, base: str, paths: list[str], *, timeout_s: float, max_body: int
) -> list[Page]:
    """The answers to `paths` under `base` (in scope only), those that came back."""
    urls = [urljoin(base, path) for path in paths]
    pages = fetch_pages(
        [url for url in urls if ctx.in_scope(Item("url", url))],
        concurrency=4,
        timeout_s=timeout_s,
        max_body=max_body,
        guard=ctx.connect_guard,
    )
    return [page for page in pages if not page.error]
