"""The Dockerfile, built and run as production would: web and worker containers of one image on
the host's PostgreSQL (a fresh database) and Redis, healthy by their own HEALTHCHECK, then a scan
of a 127.0.0.1 service through the API.

No registry is reachable here, so the base image is made from Debian's packages
(scripts/build-base-image, cached; CI passes it in OUTPOST_BASE_IMAGE) and the build runs with
no network at all (`network_mode="none"`), installing Python packages from the wheelhouse.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

from tests.deploy.conftest import database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
TAG = "outpost-ci-test:latest"
HEALTHCHECK = ["CMD", "python", "/app/scripts/container-healthcheck"]


def _log(message: str) -> None:
    print(f"[test_image] {message}", file=sys.stderr, flush=True)


def _base_image() -> str:
    given = os.environ.get("OUTPOST_BASE_IMAGE", "")
    if given:
        return given
    done = subprocess.run(
        [str(ROOT / "scripts" / "build-base-image")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _wheelhouse() -> None:
    requirements = ROOT / "build" / "wheelhouse" / "requirements.txt"
    lock = ROOT / "uv.lock"
    if requirements.exists() and requirements.stat().st_mtime >= lock.stat().st_mtime:
        return
    pip = ROOT / ".tools" / "bin" / "pip"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build-wheelhouse"), "--pip", str(pip)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _build(client: Any, base: str) -> Any:
    previous = None
    with contextlib.suppress(Exception):  # the first build on this engine has none
        previous = client.images.get(TAG).id
    image, _ = client.images.build(
        path=str(ROOT), tag=TAG, rm=True, forcerm=True, network_mode="none",
        buildargs={"BASE_IMAGE": base, "INSTALL_SYSTEM_PACKAGES": "false"},
    )  # fmt: skip
    if previous and previous != image.id:
        with contextlib.suppress(Exception):  # still used by a container, or already gone
            client.images.remove(previous)  # the engine keeps no pile of old test images
    return image


def _health(container: Any) -> str:
    container.reload()
    return str(((container.attrs.get("State") or {}).get("Health") or {}).get("Status", "none"))


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_image_serves_web_and_worker_healthy_and_scans_a_loopback_service(
    require_docker: Any,
    require_redis: None,
    empty_postgres_database: str,
    listening_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = require_docker
    timings: dict[str, float] = {}
    started = time.monotonic()
    base = _base_image()
    _wheelhouse()
    timings["base image + wheelhouse"] = time.monotonic() - started

    started = time.monotonic()
    image = _build(client, base)
    timings["docker build"] = time.monotonic() - started
    config = image.attrs["Config"]
    assert config["User"] == "outpost"
    assert config["Healthcheck"]["Test"] == HEALTHCHECK
    assert not any(e.startswith("SECRET_KEY=") for e in config.get("Env") or [])

    port = free_port()
    suffix = uuid.uuid4().hex[:8]
    env = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": database_url(empty_postgres_database),
        "REDIS_URL": settings.REDIS_URL,
        "Q_CLUSTER_NAME": f"image-test-{suffix}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "AUTO_MIGRATE": "true",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "WORKERS": "2",
        "SCAN_EXECUTOR": "local",
        "RATE_LIMIT_ENABLED": "false",
    }
    # Same check as the image's, polled faster than its 15 s so the test does not wait for nothing.
    fast_health = {
        "test": HEALTHCHECK,
        "interval": 2_000_000_000,
        "timeout": 10_000_000_000,
        "retries": 3,
        "start_period": 120_000_000_000,
    }
    containers = []
    try:
        started = time.monotonic()
        for role in ("web", "worker"):
            container = client.containers.run(
                TAG, [role], name=f"outpost-ci-{role}-{suffix}", detach=True, network_mode="host",
                environment=env, healthcheck=fast_health,
            )  # fmt: skip
            containers.append(container)
        web, worker = containers
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and {_health(c) for c in containers} != {"healthy"}:
            for c in containers:
                assert c.status != "exited", c.logs(tail=80).decode(errors="replace")
            time.sleep(1)
        states = {c.name: _health(c) for c in containers}
        assert set(states.values()) == {"healthy"}, f"{states}\n" + "\n---\n".join(
            c.logs(tail=60).decode(errors="replace") for c in containers
        )
        timings["containers healthy"] = time.monotonic() - started

        # Hardening, seen from inside: non-root, no compiler, no pip.
        uid = web.exec_run(["id", "-u"]).output.decode().strip()
        assert uid == "10001"
        tools = web.exec_run(
            ["sh", "-c", "for t in gcc cc make pip pip3; do command -v $t; done; true"]
        )
        assert tools.output.decode().strip() == ""

        started = time.monotonic()
        base_url = f"http://127.0.0.1:{port}"
        http = httpx.Client(base_url=base_url, timeout=30)
        email = f"ci-{suffix}@example.test"
        registered = http.post("/api/v1/auth/register", json={"email": email})
        assert registered.status_code == 202, registered.text
        # The worker makes the account and mails the first key's token (console mail: its log).
        token = None
        deadline = time.monotonic() + 60
        while token is None and time.monotonic() < deadline:
            found = re.search(r"First key token: (\S+)", worker.logs().decode(errors="replace"))
            token = found.group(1) if found else None
            time.sleep(0.5)
        assert token, worker.logs(tail=80).decode(errors="replace")
        confirmed = http.post("/api/v1/auth/reset-confirm", json={"email": email, "token": token})
        assert confirmed.status_code == 200, confirmed.text
        http.headers["Authorization"] = f"Bearer {confirmed.json()['api_key']['key']}"
        # Static files, collected at build time and served by WhiteNoise (hashed names).
        page = http.get("/accounts/login")
        stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page.text)
        assert stylesheet, page.text[:500]
        css = http.get(stylesheet.group(1))
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert re.search(r"\.[0-9a-f]{12}\.css$", stylesheet.group(1)), "a hashed (manifest) name"

        target = http.post(
            "/api/v1/targets", json={"value": "127.0.0.1", "note": "the test's loopback"}
        )
        assert target.status_code == 201, target.text
        graph = {
            "nodes": [
                {
                    "id": "ports",
                    "type": "port_scan",
                    "config": {"ports": str(listening_port)},
                    "x": 0,
                    "y": 0,
                }
            ],
            "edges": [],
        }
        workflow = http.post("/api/v1/workflows", json={"name": "Image test", "graph": graph})
        assert workflow.status_code == 201, workflow.text
        scan = http.post(
            "/api/v1/scans",
            json={
                "workflow": workflow.json()["id"],
                "targets": [target.json()["id"]],
                "authorize_targets": True,
            },
        )
        assert scan.status_code == 201, scan.text
        scan_id = scan.json()["id"]
        deadline = time.monotonic() + 120
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = http.get(f"/api/v1/scans/{scan_id}").json()
            if body["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.5)
        assert body.get("status") == "completed", (
            f"{body}\n{worker.logs(tail=60).decode(errors='replace')}"
        )
        step = body["steps"][0]
        assert step["node_type"] == "port_scan" and step["items_out"] == 1, step
        timings["scan through the API"] = time.monotonic() - started
    finally:
        for c in containers:
            with contextlib.suppress(Exception):  # already gone
                c.remove(force=True)
    with capsys.disabled():  # shown in CI's output, not only on failure
        _log(
            f"image {image.short_id}: {image.attrs['Size'] / 1e6:.0f} MB; timings: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
        )
