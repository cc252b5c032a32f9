"""Benchmark: how fast the tool parsers turn reports into findings.

1. The largest real sample of each tool (shared/data/scanner-outputs), parsed repeatedly:
   findings per second (median of 5 rounds).
2. A synthetic Trivy report with 20,000 vulnerabilities (the legacy sample's entries, repeated
   with distinct ids): the time of `trivy.parse` against `json.loads` of the same bytes alone,
   the floor any JSON report parser pays, with the garbage collector running as usual and paused
   as the parsers pause it (scans.tools.kit.reports.bulk_parser). The ratios say what normalization
   costs on top.

Run with `make bench`. (Storing findings in PostgreSQL is measured with the Finding model's
ingestion, not here.)
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import pytest

from scans.tools import tool_module
from scans.tools.kit.reports import bulk_parser
from tests.scanning import SCANNER_OUTPUTS

ROUNDS = 5
SYNTHETIC_VULNERABILITIES = 20_000


def median_s(work: Callable[[], object], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@pytest.mark.parametrize("tool", ["nmap", "trivy", "grype", "gitleaks", "nuclei"])
def test_findings_per_second_on_the_largest_sample(tool: str) -> None:
    path = max((SCANNER_OUTPUTS / tool).iterdir(), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    adapter = tool_module(tool)
    count = len(adapter.parse(data).findings)
    repeat = max(1, 2_000_000 // max(1, len(data)))  # ~2 MB of report per round

    elapsed = median_s(lambda: [adapter.parse(data) for _ in range(repeat)])

    per_s = count * repeat / elapsed
    print(
        f"\n{tool}: {path.name} ({len(data) / 1024:.0f} KiB, {count} findings): "
        f"{per_s:,.0f} findings/s, {len(data) * repeat / elapsed / 2**20:.1f} MiB/s"
    )
    assert count > 0


def synthetic_trivy_report(size: int) -> bytes:
    legacy = json.loads((SCANNER_OUTPUTS / "trivy" / "legacy_many_vulns.json").read_bytes())
    entries = legacy[0]["Vulnerabilities"]
    vulnerabilities = []
    for index in range(size):
        entry = dict(entries[index % len(entries)])
        entry["VulnerabilityID"] = f"CVE-2099-{index:05d}"
        vulnerabilities.append(entry)
    report = {
        "SchemaVersion": 2,
        "ArtifactName": "bench:1",
        "ArtifactType": "container_image",
        "Results": [{"Target": "bench:1 (debian 10.8)", "Class": "os-pkgs", "Type": "debian",
                     "Vulnerabilities": vulnerabilities}],
    }  # fmt: skip
    return json.dumps(report).encode()


def test_trivy_parse_of_20000_vulnerabilities_against_json_load_alone() -> None:
    data = synthetic_trivy_report(SYNTHETIC_VULNERABILITIES)
    trivy = tool_module("trivy")
    assert len(trivy.parse(data).findings) == SYNTHETIC_VULNERABILITIES
    load_gc_pausing = bulk_parser(json.loads)  # the baseline with the parser's GC pause too

    timings: dict[str, list[float]] = {"json": [], "json_paused": [], "parse": []}
    for _ in range(ROUNDS):  # interleaved, so a busy machine weighs on all three alike
        for name, work in (
            ("json", lambda: json.loads(data)),
            ("json_paused", lambda: load_gc_pausing(data)),
            ("parse", lambda: trivy.parse(data)),
        ):
            timings[name].append(median_s(work, rounds=1))
    json_s, paused_s, parse_s = (
        statistics.median(timings[k]) for k in ("json", "json_paused", "parse")
    )

    print(
        f"\ntrivy, {SYNTHETIC_VULNERABILITIES:,} vulnerabilities ({len(data) / 2**20:.1f} MiB): "
        f"json.loads {json_s * 1000:.0f} ms (GC paused: {paused_s * 1000:.0f} ms), "
        f"trivy.parse {parse_s * 1000:.0f} ms: {parse_s / json_s:.2f}x json.loads, "
        f"{parse_s / paused_s:.2f}x json.loads with the GC paused, "
        f"{SYNTHETIC_VULNERABILITIES / parse_s:,.0f} findings/s"
    )
    assert parse_s > 0
