"""Fixtures of the network sandbox's tests (the lab itself: tests/sandbox_lab.py)."""

from __future__ import annotations

from typing import Any

import pytest

from scans.engine.sandbox.link import sandbox_unsupported
from tests.conftest import service_unavailable
from tests.scans.tools.conftest import build_test_images


@pytest.fixture(scope="module")
def test_images() -> dict[str, str]:
    return build_test_images()


@pytest.fixture
def sandboxed(require_docker: Any, test_images: dict[str, str], settings: Any) -> Any:
    """The Docker engine, with the sandbox's holder image; skips when this worker cannot build
    sandboxes (no root or capabilities, no ip/nft/nsenter)."""
    reason = sandbox_unsupported()
    if reason:
        service_unavailable("netns", reason)
    settings.SCOPE_SANDBOX_IMAGE = test_images["busybox"]
    return require_docker
