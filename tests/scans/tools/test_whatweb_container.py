"""WhatWeb in its container (the local test image from Debian's whatweb and Ruby, host network)
fingerprints a real local web app (tests/recon_app.py): the URL item carries its title, server
and technologies, through the tool's run() and the Docker executor; redirects are not followed."""

from __future__ import annotations

from typing import Any

from scans.engine.executors.docker import DockerExecutor
from scans.tools import whatweb
from targets.items import Item
from tests.recon_app import ReconApp


def test_whatweb_in_its_container_fingerprints_the_local_app(
    tool_images_settings: dict[str, str], step_context: Any, recon_app: ReconApp
) -> None:
    ctx = step_context(items=[Item("url", recon_app.url)], executor=DockerExecutor(), timeout_s=180)

    result = whatweb.run(ctx)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert run.executor == "docker" and run.image == tool_images_settings["whatweb"]
    assert "--follow-redirect=never" in run.argv and run.argv[-2:] == ["--", recon_app.url]
    [item] = [i for i in result.items if i.value == recon_app.url]
    assert item.attrs["title"] == "Recon lab"
    names = {str(t["name"]).lower() for t in item.attrs["technologies"]}
    assert "python" in names, item.attrs["technologies"]
    assert {f.rule_id for f in result.findings} == {"technologies"}
    assert recon_app.other.requests == []
