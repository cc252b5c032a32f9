"""Benchmarks of the built-in recon tools against the tools they stand in for, as ratios measured
in the same run (medians of alternating runs), on this machine only (127.0.0.1):

- subdomain brute force (the bundled 3000 names) against nsd: names per second, ours / dnsrecon's
  `-t brt` (goal >= 10x); dnsrecon cannot be given a port, so nsd listens on 127.0.0.1:53 for
  this benchmark (skipped when the port is taken or the tools are missing);
- content discovery (the bundled wordlist, about 4600 words) against a fast local server
  (tests/bench/recon_site.py, its own process), each word bare and with two extensions:
  requests per second, ours / ffuf's at the same concurrency (40; goal >= 1.0x);
- the crawler over a generated 10,000-page site: pages per second.

Run with `make bench`.
"""

from __future__ import annotations

import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scans.tools import content_discovery, crawl, subdomains
from scans.tools.kit.wordlists import CONTENT_WORDLIST
from targets.items import Item
from tests.dns_zone import start_nsd
from tests.scans.conftest import StepContextFactory

RUNS = 3
CONTENT_RUNS = 5
SITE = Path(__file__).resolve().parent / "recon_site.py"
BENCH_DOMAIN = "bench.outpost.test"


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    port = _free_tcp_port()
    process = subprocess.Popen(
        [sys.executable, str(SITE), str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield f"http://127.0.0.1:{port}/"
    process.terminate()
    process.wait(timeout=10)


def _context(tmp: Path, **config: Any) -> Any:
    items = config.pop("items")
    return StepContextFactory(tmp)(
        config=config, items=items, in_scope=lambda item: True, timeout_s=600
    )


def _report(title: str, unit: str, ours: list[float], theirs: list[float], name: str) -> float:
    mine, other = statistics.median(ours), statistics.median(theirs)
    print(f"\n{title}: ours {mine:,.0f} {unit} (runs {[round(x) for x in ours]}), "
          f"{name} {other:,.0f} {unit} (runs {[round(x) for x in theirs]}), "
          f"ratio ours/{name} = {mine / other:.2f}x")  # fmt: skip
    return mine / other


# --- Subdomain brute force against dnsrecon -------------------------------------------------


def _bench_zone() -> str:
    words = subdomains.bundled_names()
    lines = [
        f"$ORIGIN {BENCH_DOMAIN}.",
        "$TTL 60",
        "@ IN SOA ns1 hostmaster 1 3600 600 86400 60",
        "@ IN NS ns1",
        "ns1 IN A 127.0.0.1",
    ]
    lines += [f"{word} IN A 127.0.0.{1 + i % 200}" for i, word in enumerate(words[:300:3])]
    return "\n".join(lines) + "\n"  # fmt: skip


def test_subdomain_brute_force_against_dnsrecon(tmp_path: Path) -> None:
    if shutil.which("dnsrecon") is None or shutil.which("nsd") is None:
        pytest.skip("dnsrecon and nsd are needed (Debian packages dnsrecon, nsd)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", 53))
        except OSError:
            pytest.skip("127.0.0.1:53 is taken (dnsrecon cannot ask another port)")
    folder = Path(tempfile.mkdtemp(prefix="outpost-bench-nsd-"))
    nsd, _port = start_nsd(_bench_zone(), BENCH_DOMAIN, folder, port=53)
    words = subdomains.bundled_names()
    wordlist = tmp_path / "names.txt"
    wordlist.write_text("\n".join(words) + "\n")
    expected = 100
    ours: list[float] = []
    theirs: list[float] = []
    try:
        for run in range(RUNS):
            ctx = _context(
                tmp_path / f"ours-{run}", items=[Item("host", BENCH_DOMAIN)],
                nameserver="127.0.0.1:53", zone_transfer=False, srv_records=False,
                permutations=0, passive=False,
            )  # fmt: skip
            started = time.perf_counter()
            result = subdomains.run(ctx)
            elapsed = time.perf_counter() - started
            found = {item.value for item in result.items} - {BENCH_DOMAIN}
            assert len(found) >= expected, (len(found), result.error)
            ours.append(len(words) / elapsed)

            out = tmp_path / f"dnsrecon-{run}.json"
            started = time.perf_counter()
            subprocess.run(
                ["dnsrecon", "-d", BENCH_DOMAIN, "-n", "127.0.0.1", "-t", "brt",
                 "-D", str(wordlist), "--threads", "20", "--lifetime", "3", "-j", str(out)],
                capture_output=True, check=True, timeout=900,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            records = [r for r in json.loads(out.read_text()) if r.get("type") == "A"]
            assert len({r["name"] for r in records}) >= expected
            theirs.append(len(words) / elapsed)
    finally:
        nsd.terminate()
        nsd.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    ratio = _report("subdomain brute force (3000 names)", "names/s", ours, theirs, "dnsrecon")
    print(f"goal >= 10x: {'met' if ratio >= 10 else 'NOT met'}")


# --- Content discovery against ffuf -----------------------------------------------------------


def test_content_discovery_against_ffuf(site: str, tmp_path: Path) -> None:
    if shutil.which("ffuf") is None:
        pytest.skip("ffuf is not installed (Debian package ffuf)")
    words = [w.strip() for w in CONTENT_WORDLIST.read_text().splitlines() if w.strip()]
    # Each word bare and with two extensions (about 13,800 requests a run), both tools.
    ffuf_requests = len(words) * 3
    our_requests = len(content_discovery.candidates(site, words, ["html", "php"]))
    ours: list[float] = []
    theirs: list[float] = []
    for run in range(CONTENT_RUNS):
        out = tmp_path / f"ffuf-{run}.json"
        started = time.perf_counter()
        subprocess.run(
            ["ffuf", "-u", f"{site}FUZZ", "-w", str(CONTENT_WORDLIST), "-e", ".html,.php",
             "-t", "40", "-s", "-mc", "200", "-of", "json", "-o", str(out)],
            capture_output=True, check=True, timeout=600,
        )  # fmt: skip
        theirs.append(ffuf_requests / (time.perf_counter() - started))
        found_ffuf = {r["input"]["FUZZ"] for r in json.loads(out.read_text())["results"]}

        ctx = _context(
            tmp_path / f"ours-{run}", items=[Item("url", site)], calibrate=False,
            status_codes="200", concurrency=40, extensions="html,php",
        )  # fmt: skip
        started = time.perf_counter()
        result = content_discovery.run(ctx)
        ours.append(our_requests / (time.perf_counter() - started))
        found_ours = {item.value.removeprefix(site) for item in result.items}
        assert {"admin", "backup", "config", "login"} <= found_ours & found_ffuf
    ratio = _report("content discovery (bundled wordlist)", "requests/s", ours, theirs, "ffuf")
    print(f"goal >= 1.0x: {'met' if ratio >= 1.0 else 'NOT met'}")


# --- The crawler on 10,000 pages ----------------------------------------------------------------


def test_crawler_pages_per_second(site: str, tmp_path: Path) -> None:
    rates: list[float] = []
    for run in range(RUNS):
        ctx = _context(
            tmp_path / f"crawl-{run}", items=[Item("url", site)], max_pages=10_001,
            max_depth=20, robots=False, concurrency=20,
        )  # fmt: skip
        started = time.perf_counter()
        result = crawl.run(ctx)
        elapsed = time.perf_counter() - started
        pages = {item.value for item in result.items if item.attrs.get("status") == 200}
        assert len(pages) >= 10_000, len(pages)
        rates.append(len(pages) / elapsed)
    print(f"\ncrawler, 10,000-page site: {statistics.median(rates):,.0f} pages/s "
          f"(runs {[round(r) for r in rates]})")  # fmt: skip
