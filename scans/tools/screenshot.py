"""screenshot: what each web page looks like, rendered by headless Chromium (Debian's chromium).

argv (one per URL item; the dry run shows it as it runs):
    chromium --headless=new --no-first-run … --user-data-dir=/output/profile-N
      --proxy-server=http://127.0.0.1:9 --proxy-bypass-list=<-loopback>;HOST:PORT
      --window-size=W,H --screenshot=/output/shot-N.png -- URL

Scope: the URL itself is checked before Chromium starts, and Chromium may reach nothing but
that URL's origin. Every request goes to a proxy that does not exist (port 9, discard) except
those to the page's own host and port (`--proxy-bypass-list`; `<-loopback>` removes Chromium's
implicit loopback bypass), so a redirect, an image, a script or a frame on another origin fails
without a packet leaving for it, names included (a proxied request is never resolved here).
With the step's connect guard (scans.engine.sandbox.guard), the page's host is checked and
resolved by the guard before Chromium starts, and Chromium is told to use that address
(`--host-resolver-rules=MAP host address`): it makes no lookup of its own, so a second DNS answer
(rebinding) cannot send it elsewhere, and a host the guard refuses is not rendered.
It runs as a locked-down subprocess of the local executor (argv list, empty environment, its
own profile folder, killed with its process group at the timeout); Chromium's own sandbox is on
unless the worker runs as root (`--no-sandbox` then, since Chromium refuses to start otherwise).
No address-space limit: Chromium reserves far more virtual memory than it uses.

Each PNG is kept as an artifact of the scan; the URL item gets a `screenshot` attr (the step's
storage fills in the artifact's id, docs/inventory.md), which the inventory turns into a
screenshot asset shown on the URL's page. No findings.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from typing import Any
from urllib.parse import urlsplit

from scans.engine.executors.local import LocalExecutor
from scans.engine.runtime import Command, StepContext, StepResult, ToolInvocation
from scans.engine.sandbox.guard import pinned_address
from scans.tools.kit import fields
from scans.tools.kit.arguments import item_arguments, url_argument
from scans.tools.kit.options import ConfigField, timeout_field, validate_config
from scans.tools.kit.records import step_error
from scans.tools.kit.tool import Tool
from scans.tools.kit.values import is_ip_literal
from targets.items import Item

TOOL = "screenshot"
ACCEPTS = {"url"}
EMITS = {"url"}

NODE = Tool(
    type="screenshot",
    label="Screenshot",
    group="Probe",
    icon="image",
    help="Render each web page in headless Chromium (only its own origin) and keep a PNG.",
    order=50,
)
DEAD_PROXY = "http://127.0.0.1:9"  # discard: nothing listens, every proxied request fails
SIZES = {"desktop": (1280, 800), "mobile": (390, 844)}
CONFIG_FIELDS: list[ConfigField] = [
    fields.choice("size", "desktop", SIZES, "Window size: desktop (1280x800) or mobile (390x844)"),
    fields.integer("page_timeout_s", 20, 2, 120, "Time one page may take to render"),
    timeout_field(),
]  # fmt: skip


def chromium_binary() -> str:
    return shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"


def _origin_rule(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _pinned_host(guard: Any, url: str) -> str:
    """Chromium's host resolver rule for the page's host: mapped to the address the step's
    guard checked ("" without a guard, or for an address). Raises OSError when refused."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    address = pinned_address(guard, host, parts.port or (443 if parts.scheme == "https" else 80))
    if guard is None or is_ip_literal(host):
        return ""
    return f"MAP {host} {f'[{address}]' if ':' in address else address}"


def _argv(
    url: str, index: int, size: tuple[int, int], output: str = "/output", pinned: str = ""
) -> list[str]:
    """The Chromium argv; `output` is the folder it writes in (the dry run shows /output);
    `pinned` a host resolver rule (`_pinned_host`)."""
    argv = [
        chromium_binary(), "--headless=new", "--no-first-run", "--no-default-browser-check",
        "--disable-gpu", "--disable-extensions", "--disable-sync", "--disable-default-apps",
        "--disable-background-networking", "--disable-component-update", "--mute-audio",
        "--hide-scrollbars", "--disable-dev-shm-usage", "--ignore-certificate-errors",
        f"--user-data-dir={output}/profile-{index}",
        f"--proxy-server={DEAD_PROXY}",
        f"--proxy-bypass-list=<-loopback>;{_origin_rule(url)}",
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={output}/shot-{index}.png",
    ]  # fmt: skip
    if pinned:
        argv.append(f"--host-resolver-rules={pinned}")
    if os.geteuid() == 0:
        argv.append("--no-sandbox")  # Chromium will not start its sandbox as root
    return [*argv, "--", url]


def _targets(items: list[Item]) -> tuple[list[str], list[str]]:
    return item_arguments(items, "url", url_argument, refusal="not rendered")


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    """One Chromium per URL item."""
    options = validate_config(config, CONFIG_FIELDS)
    urls, _ = _targets(items)
    return [
        Command(_argv(url, index, SIZES[options["size"]]))
        for index, url in enumerate(urls, start=1)
    ]


def run(ctx: StepContext) -> StepResult:
    options = validate_config(ctx.config, CONFIG_FIELDS)
    urls, refused = _targets(ctx.items)
    for line in refused:
        ctx.log(line)
    result = StepResult()
    if shutil.which(chromium_binary()) is None:
        # The embedded default may run where no browser is installed: the rest of a recon
        # workflow goes on, and the scan log says why there are no screenshots.
        ctx.log("screenshots skipped: Chromium is not installed on this worker (Debian: chromium)")
        return result
    executor = LocalExecutor()
    for index, url in enumerate(urls, start=1):
        if ctx.is_cancelled():
            break
        if not ctx.in_scope(Item("url", url)):
            ctx.log(f"{url}: not rendered, out of scope")
            continue
        try:
            pinned = _pinned_host(ctx.connect_guard, url)
        except OSError as exc:
            ctx.log(f"{url}: not rendered: {exc}")
            continue
        workdir = ctx.workdir / f"screenshot-{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        argv = _argv(url, index, SIZES[options["size"]], str(workdir / "output"), pinned)
        run = executor.run(
            ToolInvocation(
                argv=argv,
                timeout_s=float(options["page_timeout_s"]),
                workdir=workdir,
                memory_mb=0,
                pids_limit=512,
                cancel_check=ctx.is_cancelled,
            )
        )
        if ctx.connect_guard is not None:
            run.enforcement = "connect"
        ctx.heartbeat()
        shutil.rmtree(workdir / "output" / f"profile-{index}", ignore_errors=True)
        shot = workdir / "output" / f"shot-{index}.png"
        if not shot.is_file() or not shot.read_bytes().startswith(b"\x89PNG"):
            tail = run.stderr.decode(errors="replace").strip()[-200:]
            run.error = (
                run.error or f"{url}: no screenshot ({tail or 'exit ' + str(run.exit_code)})"
            )
            result.runs.append(run)
            ctx.log(run.error)
            continue
        result.runs.append(run)
        result.artifacts.append(shot)
        digest = hashlib.sha256(shot.read_bytes()).hexdigest()
        result.items.append(
            Item("url", url, {"screenshot": {"path": str(shot.resolve()), "sha256": digest}})
        )
        ctx.log(f"{url}: screenshot {shot.stat().st_size} bytes")
    result.error = step_error(result.runs)
    return result
