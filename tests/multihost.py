"""Several "hosts" on one machine for the tests: a bridge the test creates (10.231.x.1/24 on the
host side) and one network namespace per worker with its own address on it and its own disk
(OUTPOST_VAR_DIR). The test process is the web host. What the workers share with it is reached
only over the bridge: PostgreSQL and Redis through relays bound to the bridge address, a
SeaweedFS S3 server bound to it, and the scan target, an HTTP server on it that logs every
request. Nothing is routed beyond the bridge. Needs root and iproute2 (CI: `netns`)."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import service_unavailable
from tests.engine_relay import relay_serve
from tests.s3server import S3Server, bucket_ready, weed_start, weed_stop
from tests.workers import _group_running

ROOT = Path(__file__).resolve().parent.parent


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _tcp_relay(
    listen: tuple[str, int], upstream: tuple[str, int], opened: list[socket.socket]
) -> socket.socket:
    listener = socket.create_server(listen)

    def connect() -> socket.socket:
        far = socket.create_connection(upstream, timeout=5)
        far.settimeout(None)
        return far

    relay_serve(listener, connect, opened)
    return listener


@dataclass
class Target:
    """The scan target: an HTTP server on the bridge that logs every request path."""

    host: str
    port: int
    delay_s: float = 0.0
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}/{path}"


@dataclass
class Lab:
    tag: str
    bridge_ip: str
    env: dict[str, str]  # what every worker host shares: database, broker, bucket
    s3: S3Server
    prefix: str
    target: Target
    folder: Path
    namespaces: list[str] = field(default_factory=list)
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_worker(self, name: str, *, processes: int = 2) -> subprocess.Popen[bytes]:
        """A worker cluster on a host of its own: its namespace, address and disk."""
        namespace = self.namespaces[len(self.workers)]
        disk = self.folder / f"host-{name}"
        disk.mkdir()
        env = {**os.environ, **self.env, "OUTPOST_VAR_DIR": str(disk), "WORKERS": str(processes),
               "OUTPOST_ARTIFACTS_DIR": str(disk / "artifacts"), "PYTHONUNBUFFERED": "1"}  # fmt: skip
        log = (self.folder / f"worker-{name}.log").open("ab")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, str(ROOT / "manage.py"), "qcluster"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.workers[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.workers[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _group_running(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log(self, name: str) -> str:
        return (self.folder / f"worker-{name}.log").read_text(errors="replace")[-5000:]


def _serve_target(host: str, target: Target) -> Any:
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            target.hits.append(self.path)
            if target.delay_s:
                time.sleep(target.delay_s)
            body = b"<html><head><title>lab</title></head><body>ok</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    target.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def hosts_lab(transactional_db: None, tmp_path: Path) -> Iterator[Lab]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        service_unavailable("netns", "network namespaces need root and iproute2")
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("hosts share PostgreSQL and Redis (DATABASE_URL and REDIS_URL)")
    tag = uuid.uuid4().hex[:6]
    subnet = random.randint(1, 250)
    bridge_ip = f"10.231.{subnet}.1"
    bridge = f"obr{tag}"
    namespaces = [f"outpost-h{tag}-{i}" for i in (1, 2)]
    made: list[str] = []
    servers: list[Any] = []
    opened: list[socket.socket] = []
    workers: list[subprocess.Popen[bytes]] = []
    weed = None
    try:
        _ip("link", "add", bridge, "type", "bridge")
        made.append("bridge")
        _ip("addr", "add", f"{bridge_ip}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for index, namespace in enumerate(namespaces, start=2):
            _ip("netns", "add", namespace)
            made.append(namespace)
            host_end = f"ov{tag}{index}"
            _ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            _ip("link", "set", host_end, "master", bridge, "up")
            _ip("-n", namespace, "addr", "add", f"10.231.{subnet}.{index}/24", "dev", "eth0")
            _ip("-n", namespace, "link", "set", "eth0", "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
    except RuntimeError as exc:
        for namespace in namespaces:
            if namespace in made:
                subprocess.run(["ip", "netns", "del", namespace], check=False)
        if "bridge" in made:
            subprocess.run(["ip", "link", "del", bridge], check=False)
        service_unavailable("netns", str(exc))
    try:
        db = connection.settings_dict
        pg = _tcp_relay(
            (bridge_ip, 0), (db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)), opened
        )
        redis_url = settings.REDIS_URL.rsplit("/", 1)
        redis_host, redis_port = redis_url[0].split("//")[1].split(":")
        rd = _tcp_relay((bridge_ip, 0), (redis_host, int(redis_port)), opened)
        servers += [pg, rd]
        weed, endpoint = weed_start(tmp_path / "seaweedfs", ip=bridge_ip)
        s3 = S3Server(endpoint=endpoint)
        bucket_ready(s3, weed)
        prefix = f"lab-{tag}"
        target = Target(host=bridge_ip, port=0)
        servers.append(_serve_target(bridge_ip, target))
        env = {
            "DATABASE_URL": f"postgres://{db['USER']}@{bridge_ip}:{pg.getsockname()[1]}/{db['NAME']}",
            "REDIS_URL": f"redis://{bridge_ip}:{rd.getsockname()[1]}/{redis_url[1]}",
            "Q_CLUSTER_NAME": settings.Q_CLUSTER_NAME,
            "SCAN_EXECUTOR": "local",
            "RATE_LIMIT_ENABLED": "false",
            "STEP_HEARTBEAT_S": "2",
            **s3.env(prefix),
        }
        running = Lab(tag=tag, bridge_ip=bridge_ip, env=env, s3=s3, prefix=prefix, target=target,
                      folder=tmp_path, namespaces=namespaces)  # fmt: skip
        yield running
        workers.extend(running.workers.values())
    finally:
        for proc in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        for sock in opened:  # the workers' database and broker sessions end with them
            with contextlib.suppress(OSError):
                sock.close()
        # and whatever session of theirs the server still holds (never in the way of the
        # clean-up of the namespaces and the bridge below)
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            if workers:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        for server in servers:
            with contextlib.suppress(Exception):
                if isinstance(server, socket.socket):
                    server.close()
                else:
                    server.shutdown()
                    server.server_close()
        if weed is not None:
            with contextlib.suppress(Exception):
                weed_stop(weed)
        for namespace in namespaces:
            if namespace in made:
                for line in subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                                           text=True, check=False).stdout.split():  # fmt: skip
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(os.getpgid(int(line)), signal.SIGKILL)
                subprocess.run(["ip", "netns", "del", namespace], check=False)
        if "bridge" in made:
            subprocess.run(["ip", "link", "del", bridge], check=False)
