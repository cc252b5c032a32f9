"""The trivy adapter end to end through the Docker executor. The image is a stand-in
(outpost-test/trivy-fake:1, see scripts/build-test-images): real Trivy needs its vulnerability
database from a registry, which no test machine reaches. The stand-in checks the argv the adapter
builds, as Trivy would, and writes a real Trivy report to --output."""

from __future__ import annotations

import json
from typing import Any

from scans.engine.executors.docker import DockerExecutor
from scans.tools import trivy
from targets.items import Item
from tests.scans.tools.conftest import sample


def test_trivy_scans_an_image_item_and_its_report_becomes_findings(
    tool_images_settings: dict[str, str], step_context: Any
) -> None:
    raw = json.loads(sample("trivy/scheme_2_many_vulns.json"))
    expected = sum(len(r.get("Vulnerabilities") or []) for r in raw["Results"])
    ctx = step_context(
        items=[Item("image", "nginx:1.25")],
        executor=DockerExecutor(),
        in_scope=lambda item: True,
    )

    result = trivy.run(ctx)

    assert result.error == "", step_context.logs
    [run] = result.runs
    assert run.executor == "docker"
    assert run.argv[:2] == ["trivy", "image"] and run.argv[-2:] == ["--", "nginx:1.25"]
    assert b"trivy-fake: image nginx:1.25" in run.stderr
    assert len(result.findings) == expected
    assert {f.item for f in result.findings} == {"nginx:1.25"}
    assert all(f.location.startswith("nginx:1.25") for f in result.findings)
    assert [p.name for p in result.artifacts] == ["trivy-1.json"]


def test_a_tool_that_fails_fails_the_step_with_its_reason(
    tool_images_settings: dict[str, str], step_context: Any, settings: Any
) -> None:
    settings.TOOL_IMAGES = {**settings.TOOL_IMAGES, "trivy": "outpost-test/not-built:1"}
    ctx = step_context(items=[Item("image", "nginx:1.25")], executor=DockerExecutor())

    result = trivy.run(ctx)

    assert "outpost-test/not-built:1 is not available locally and cannot be pulled" in result.error
    assert result.findings == []


def test_trivy_runs_with_its_cache_or_says_in_the_log_why_it_ran_without(
    tool_images_settings: dict[str, str], step_context: Any, settings: Any
) -> None:
    ctx = step_context(items=[Item("image", "nginx:1.25")], executor=DockerExecutor())
    assert trivy.run(ctx).error == ""
    assert not [line for line in step_context.logs if "tool cache" in line]

    # A cache whose preparation image is missing: the scan runs anyway, and its log says so.
    settings.TOOL_CACHE_VOLUME_PREFIX += "other-"
    settings.TOOL_IMAGE_CACHE_INIT = "outpost-test/not-built:2"
    ctx = step_context(items=[Item("image", "nginx:1.25")], executor=DockerExecutor())
    result = trivy.run(ctx)

    assert result.error == "" and result.findings
    [note] = [line for line in step_context.logs if "tool cache" in line]
    assert note.startswith(f"tool cache {settings.TOOL_CACHE_VOLUME_PREFIX}trivy unavailable")
    assert "outpost-test/not-built:2" in note
