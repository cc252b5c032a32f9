"""ffuf in its container (the local test image from Debian's ffuf, host network) finds the hidden
paths of a real local web app (tests/recon_app.py) with the bundled wordlist, its calibration
leaving out the app's soft-404 answers, through the tool's run() and the Docker executor."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scans.engine.executors.docker import DockerExecutor
from scans.tools import ffuf
from targets.items import Item
from tests.recon_app import HIDDEN_PATHS, ReconApp


def test_ffuf_in_its_container_finds_the_hidden_paths(
    tool_images_settings: dict[str, str], step_context: Any, recon_app: ReconApp
) -> None:
    ctx = step_context(
        config={"wordlist": "default", "threads": 10},
        items=[Item("url", recon_app.url)],
        executor=DockerExecutor(),
        timeout_s=300,
    )

    result = ffuf.run(ctx)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert run.executor == "docker" and run.image == tool_images_settings["ffuf"]
    assert "-ac" in run.argv and run.argv[:3] == ["ffuf", "-u", f"{recon_app.url}FUZZ"]
    found = {urlsplit(item.value).path: item.attrs["status"] for item in result.items}
    for path, status in HIDDEN_PATHS.items():
        assert found.get(path) == status, (path, sorted(found))
    assert len(found) < 20, sorted(found)  # the soft 404 answers were calibrated away
    assert {f.rule_id for f in result.findings} == {"discovered-path"}
    assert [p.name for p in result.artifacts] == ["ffuf-1.json"]
    assert len(recon_app.app.requests) > 4000  # the whole bundled wordlist, for real
