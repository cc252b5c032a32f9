"""The screenshot node renders a real local page in Debian's headless Chromium and keeps a PNG;
the page's images on another origin (another port of 127.0.0.1, and `localhost`) are never
requested, and a URL out of scope is never rendered (tests/recon_app.py records every request)."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest

from scans.tools import screenshot
from targets.items import Item, url_key
from tests.conftest import service_unavailable
from tests.recon_app import ReconApp
from tests.scans.conftest import StepContextFactory


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if shutil.which("chromium") is None:
        service_unavailable("chromium", "Debian's chromium is not installed")


def only_app(app: ReconApp) -> Callable[[Item], bool]:
    return lambda item: url_key(item.value).origin == f"http://127.0.0.1:{app.app.port}"


def test_it_keeps_a_png_of_the_page_and_fetches_nothing_off_its_origin(
    step_context: StepContextFactory, recon_app: ReconApp
) -> None:
    ctx = step_context(
        items=[Item("url", recon_app.url)], in_scope=only_app(recon_app), timeout_s=120
    )

    result = screenshot.run(ctx)

    assert result.error == "", step_context.logs
    [shot] = result.artifacts
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 1000
    [item] = result.items
    assert item.value == recon_app.url
    assert item.attrs["screenshot"]["path"] == str(shot.resolve())
    assert len(item.attrs["screenshot"]["sha256"]) == 64
    assert "/" in recon_app.app.paths  # the page itself was rendered
    assert recon_app.other.requests == []  # its images on other origins were not fetched
    [run] = result.runs
    assert f"--proxy-bypass-list=<-loopback>;127.0.0.1:{recon_app.app.port}" in run.argv


def test_a_url_out_of_scope_is_not_rendered(
    step_context: StepContextFactory, recon_app: ReconApp
) -> None:
    ctx = step_context(items=[Item("url", recon_app.url)], in_scope=lambda item: False)

    result = screenshot.run(ctx)

    assert result.items == [] and result.runs == []
    assert recon_app.app.requests == []
    assert any("out of scope" in line for line in step_context.logs)


def test_the_dry_run_command_is_an_argument_list_ending_with_the_url() -> None:
    [command] = screenshot.commands({}, [Item("url", "http://127.0.0.1:8080/app/")])

    assert command.argv[-2:] == ["--", "http://127.0.0.1:8080/app/"]
    assert "--proxy-server=http://127.0.0.1:9" in command.argv
    assert screenshot.commands({}, [Item("url", "-http://x/")]) == []


def test_without_chromium_it_says_so_and_the_workflow_goes_on(
    step_context: StepContextFactory, recon_app: ReconApp, monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path))  # a worker without a browser installed

    result = screenshot.run(step_context(items=[Item("url", recon_app.url)]))

    assert result.error == "" and result.items == []
    assert any("Chromium is not installed" in line for line in step_context.logs)
