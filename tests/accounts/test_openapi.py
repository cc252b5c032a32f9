"""The OpenAPI schema generates for every endpoint without errors or warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_schema_validates_without_warnings(tmp_path: Path) -> None:
    env = {**os.environ, "OUTPOST_VAR_DIR": str(tmp_path)}
    out = tmp_path / "schema.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Warning" not in done.stderr and "Error" not in done.stderr, done.stderr[-4000:]
    schema = yaml.safe_load(out.read_text())
    paths = schema["paths"]
    for expected in (
        "/api/v1/auth/register",
        "/api/v1/auth/token",
        "/api/v1/auth/api-keys",
        "/api/v1/auth/reset-request",
        "/api/v1/auth/reset-confirm",
        "/api/v1/teams",
        "/api/v1/teams/members",
        "/api/v1/audit",
    ):
        assert expected in paths
    assert "401" in paths["/api/v1/auth/me"]["get"]["responses"]


@pytest.mark.django_db
def test_the_schema_and_the_docs_are_served(db: None) -> None:
    schema = Client().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Outpost API"
    docs = Client().get("/api/docs")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "<script>" not in page  # the init script is a separate file, allowed by the CSP
