"""Can this server run a workflow's container tools right now? For each tool node, the executor
that will run it (scans.engine.executors.resolve_executor_name) is asked: the Docker engine
whether the tool's image is present or can be pulled, the local executor whether the tool's
program is installed. The builder's readiness panel and every dry run show the answer, naming
the image (or program) that is missing, instead of a step failing an hour into a scan."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from scans.engine.executors import resolve_executor_name
from scans.tools import tool_image
from scans.tools.kit.tool import Tool
from workflows.nodes import node_type

DOCKER_TIMEOUT_S = 5
# A registry that could not be asked is not asked again for this long (a builder panel is
# reloaded often; an unreachable registry takes seconds to say so).
PULL_CHECK_TTL_S = 60.0
_pull_checks: dict[str, tuple[float, str]] = {}
_pull_lock = threading.Lock()


@dataclass(frozen=True)
class ImageCheck:
    node_id: str
    tool: str
    image: str
    executor: str
    is_ready: bool
    detail: str  # "present", "pullable", "installed at …", or why not

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def graph_images_check(graph: dict[str, Any]) -> list[ImageCheck]:
    """One check per container tool node of the graph (built-in and logic nodes need nothing)."""
    tools = [
        (node["id"], kind)
        for node in graph.get("nodes", [])
        if isinstance(kind := node_type(str(node.get("type"))), Tool) and not kind.is_builtin
    ]
    if not tools:
        return []
    executor = resolve_executor_name()
    client = _docker_client() if executor == "docker" else None
    checks = []
    for node_id, tool in tools:
        image = tool_image(tool.type)
        if executor == "docker":
            ready, detail = _image_ready(client, image)
        else:
            path = shutil.which(tool.type)
            ready = path is not None
            detail = (
                f"installed at {path}" if path else f"{tool.type} is not installed on this worker"
            )
        checks.append(ImageCheck(node_id, tool.type, image, executor, ready, detail))
    return checks


def _docker_client() -> Any:
    try:
        from scans.engine.executors import engine_client

        return engine_client(timeout=DOCKER_TIMEOUT_S)
    except Exception:  # no SDK, no socket: every image check says so
        return None


def _image_ready(client: Any, image: str) -> tuple[bool, str]:
    if client is None:
        return False, "the Docker engine does not answer"
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
        return True, "present"
    except ImageNotFound:
        pass
    except Exception as exc:
        return False, f"the Docker engine could not be asked: {type(exc).__name__}"
    with _pull_lock:
        cached = _pull_checks.get(image)
    if cached is not None and time.monotonic() - cached[0] < PULL_CHECK_TTL_S:
        return False, cached[1]
    try:
        client.api.inspect_distribution(image)
        return True, "pullable"
    except Exception as exc:  # DockerException, or the engine's HTTP API failing
        reason = str(getattr(exc, "explanation", None) or exc).strip()[:200]
        detail = f"image {image} is not on the Docker engine and cannot be pulled: {reason}"
        with _pull_lock:
            _pull_checks[image] = (time.monotonic(), detail)
        return False, detail
