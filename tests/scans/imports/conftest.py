"""Fixtures of the report-import tests: the real reports and an upload helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

IMPORT_URL = "/api/v1/scans/import"


@pytest.fixture(autouse=True)
def private_artifacts(settings: Any, tmp_path: Path) -> Path:
    """Imported reports are kept as artifacts, in a folder of this test's own (scan ids start at
    1 in every test database)."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR.mkdir()
    return Path(settings.ARTIFACTS_DIR)


def upload(api: Any, data: bytes | list[tuple[str, bytes]], tool: str = "", **fields: str) -> Any:
    """POST one report (bytes) or several ((name, bytes) pairs) to the import API."""
    files = data if isinstance(data, list) else [("report", data)]
    body: dict[str, Any] = {"file": [SimpleUploadedFile(name, raw) for name, raw in files]}
    if tool:
        body["tool"] = tool
    return api.post(IMPORT_URL, {**body, **fields}, format="multipart")
