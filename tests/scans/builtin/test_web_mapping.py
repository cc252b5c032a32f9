"""The built-in crawler and content discovery against a real local web app (tests/recon_app.py)
that records every request: they find its linked, scripted, listed and hidden paths, and never
request a URL out of scope or, crawling same-origin, on another origin."""

from __future__ import annotations

from urllib.parse import urlsplit

from scans.tools import content_discovery, crawl
from targets.items import Item, url_key
from tests.recon_app import FROM_ROBOTS, FROM_SCRIPTS, HIDDEN_PATHS, LINKED_PATHS, ReconApp
from tests.scans.conftest import StepContextFactory


def only_127(item: Item) -> bool:
    """127.0.0.1 on any port is authorized; `localhost` is not (another host name)."""
    return item.kind == "url" and url_key(item.value).host.name == "127.0.0.1"


def paths(values: set[str]) -> set[str]:
    return {urlsplit(value).path for value in values}


def test_the_crawler_maps_links_scripts_robots_sitemap_and_forms(
    step_context: StepContextFactory, recon_app: ReconApp
) -> None:
    ctx = step_context(items=[Item("url", recon_app.url)], in_scope=only_127)

    result = crawl.run(ctx)

    assert result.error == ""
    found = {item.value: item.attrs for item in result.items}
    assert paths(set(found)) >= LINKED_PATHS | FROM_SCRIPTS | FROM_ROBOTS
    assert found[recon_app.url]["title"] == "Recon lab"
    login = found[f"{recon_app.url}login"]
    assert login["method"] == "POST" and login["parameters"] == ["go", "password", "user"]
    products = found[f"{recon_app.url}products?id=3&sort=price"]
    assert products["parameters"] == ["id", "sort"]
    assert found[f"{recon_app.url}api/v2/orders"]["status"] == 401
    # The hidden paths are not linked anywhere: a crawler cannot know them.
    assert not set(HIDDEN_PATHS) & paths(set(found))


def test_the_crawler_never_fetches_another_host_or_origin(
    step_context: StepContextFactory, recon_app: ReconApp
) -> None:
    ctx = step_context(items=[Item("url", recon_app.url)], in_scope=only_127)

    result = crawl.run(ctx)

    # Nothing reached the other server, neither as `localhost` (out of scope) nor as
    # 127.0.0.1 on its port (in scope, another origin).
    assert recon_app.other.requests == []
    assert {host for host, _ in recon_app.app.requests} == {f"127.0.0.1:{recon_app.app.port}"}
    recorded = {item.value for item in result.assets}
    other = recon_app.other.port
    assert f"http://localhost:{other}/secret" in recorded
    assert f"http://127.0.0.1:{other}/other-origin" in recorded
    assert not any(item.value.startswith("http://localhost") for item in result.items)


def test_the_crawler_keeps_to_its_page_and_depth_limits(
    step_context: StepContextFactory, recon_app: ReconApp
) -> None:
    ctx = step_context(
        config={"max_depth": 0, "robots": False},
        items=[Item("url", recon_app.url)],
        in_scope=only_127,
    )

    crawl.run(ctx)

    assert recon_app.app.paths == ["/"]


def test_content_discovery_finds_the_hidden_paths_past_a_soft_404(
    step_context: StepContextFactory, recon_app: ReconApp
) -> None:
    # The first 1000 bundled words hold all hidden paths but phpinfo.php, which is added. (A
    # threaded Python server in the test's own process answers a few hundred requests a second.)
    config = {"wordlist": "small", "extra_words": "phpinfo.php", "concurrency": 8}
    ctx = step_context(config=config, items=[Item("url", recon_app.url)], in_scope=only_127)

    result = content_discovery.run(ctx)

    assert result.error == ""
    found = {urlsplit(item.value).path: item.attrs["status"] for item in result.items}
    for path, status in HIDDEN_PATHS.items():
        assert found.get(path) == status, path
    # The catch-all answers 200 for every other word; calibration leaves those out.
    assert len(found) < 20, sorted(found)
    rules = {finding.rule_id for finding in result.findings}
    assert rules == {"discovered-path"}
    assert "calibration: random paths answer" in result.runs[0].stdout.decode()
    assert len(recon_app.app.requests) > 1000  # the words and the calibration probes


def test_without_calibration_the_soft_404_floods_the_result(
    step_context: StepContextFactory, recon_app: ReconApp
) -> None:
    ctx = step_context(
        config={"calibrate": False, "wordlist": "small", "concurrency": 8},
        items=[Item("url", recon_app.url)],
        in_scope=only_127,
    )

    result = content_discovery.run(ctx)

    assert len(result.items) > 900


def test_content_discovery_never_requests_a_path_out_of_scope(
    step_context: StepContextFactory, recon_app: ReconApp
) -> None:
    def scope(item: Item) -> bool:
        return only_127(item) and not urlsplit(item.value).path.startswith("/admin")

    ctx = step_context(
        config={"extensions": "bak", "wordlist": "small", "concurrency": 8},
        items=[Item("url", recon_app.url)],
        in_scope=scope,
    )

    result = content_discovery.run(ctx)

    asked = recon_app.app.paths
    assert not any(path.startswith("/admin") for path in asked)
    assert "/config.bak" in asked and "/.git/HEAD" in asked
    assert "/admin" not in {urlsplit(item.value).path for item in result.items}
    assert "out of scope: not requested" in result.runs[0].stdout.decode()
