"""docker-compose.yml validates (`docker-compose config`) and wires what the deployment needs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import service_unavailable

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    service_unavailable(
        "docker", "neither docker-compose nor the docker compose plugin is installed"
    )
    raise AssertionError("unreachable")


def compose_config(tmp_path: Path, env_text: str, *args: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text(env_text)
    return subprocess.run(
        [*compose_command(), *args, "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def volumes(service: dict[str, Any]) -> list[str]:
    """`source:target` of each volume, from either syntax docker-compose may print."""
    return [
        ":".join(v.split(":")[:2]) if isinstance(v, str) else f"{v['source']}:{v['target']}"
        for v in service.get("volumes") or []
    ]


@pytest.fixture
def example_env() -> str:
    """.env.example as a user would start from it, with the values the compose file requires."""
    return (
        (ROOT / ".env.example").read_text()
        + "\nPOSTGRES_PASSWORD=compose-test\nSECRET_KEY="
        + "k" * 64
        + "\n"
    )


def test_the_compose_file_validates_and_wires_health_and_the_docker_engine(
    tmp_path: Path, example_env: str
) -> None:
    done = compose_config(tmp_path, example_env, "--profile", "tools")
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    services = config["services"]
    assert {"web", "worker", "postgres", "redis", "migrate"} <= set(services)
    for name in ("web", "worker", "migrate"):
        service = services[name]
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        assert service["environment"]["ENVIRONMENT"] == "production", "not development from .env"
        assert (
            service["environment"]["DATABASE_URL"]
            == "postgres://outpost:compose-test@postgres:5432/outpost"
        )
        assert "/var/lib/outpost:/var/lib/outpost" in volumes(service), (
            "artifacts at the same path as on the host"
        )
    assert services["web"]["command"] == ["web"] and services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    worker_volumes = [
        v if isinstance(v, str) else f"{v['source']}:{v['target']}"
        for v in services["worker"]["volumes"]
    ]
    assert any(v.startswith("/var/run/docker.sock:/var/run/docker.sock") for v in worker_volumes)
    assert services["worker"]["group_add"] == ["999"]
    assert "/var/run/docker.sock" not in str(services["web"].get("volumes")), (
        "only the worker gets the engine"
    )


def test_the_compose_build_uses_the_same_pinned_base_image_as_the_dockerfile(
    tmp_path: Path, example_env: str
) -> None:
    done = compose_config(tmp_path, example_env)
    assert done.returncode == 0, done.stderr
    compose_base = yaml.safe_load(done.stdout)["services"]["web"]["build"]["args"]["BASE_IMAGE"]
    dockerfile_base = re.search(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert dockerfile_base and compose_base == dockerfile_base.group(1)
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", compose_base)


def test_it_refuses_to_render_without_a_database_password(tmp_path: Path) -> None:
    done = compose_config(tmp_path, "SECRET_KEY=" + "k" * 64 + "\n")
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in done.stderr
