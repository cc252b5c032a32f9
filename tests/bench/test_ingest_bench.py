"""Ingestion benchmark (`make bench`): a synthetic Trivy report with 20,000 vulnerabilities is
imported (parse + normalize + dedup + triage states + store as findings) into PostgreSQL, against
raw paths measured in the same run:

- the baseline the goal (≤ 3x) is judged against: `json.loads` + COPY of the same rows (every
  column a finding row has, the vulnerability kept as its evidence) into a plain table shaped
  like the findings table, without its indexes;
- for reference, two more: the same COPY into the findings table itself (its indexes and foreign
  keys: what storing costs before any of the import's own work), and the narrowest floor, nine
  columns into an unlogged temporary table.

Each report is then imported a second time (a rescan of an unchanged image: every fingerprint
already has a triage state and a latest row, which the new rows take over), printed against the
same baseline and the first import.

Rounds are interleaved (each round: every raw path, then the import, with the COPY into the
findings table and the import side by side, in turns first). The best of each is printed; the
1.5x goal is judged on the median of each round's own import / COPY ratio, printed with the load
average: on the shared 2-core machine a COPY alone took from 2.6 s to 6.6 s between runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from scans.findings.storage import FINDING_COLUMNS
from scans.imports.services import scan_import
from scans.models import Finding, Scan, ScanStatus

pytestmark = [pytest.mark.django_db(transaction=True)]

VULNERABILITIES = 20_000
ROUNDS = 5
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]


# Real reports repeat a few hundred distinct CVSS vectors; three of four vulnerabilities have one.
VECTORS = [
    f"CVSS:3.1/AV:{av}/AC:{ac}/PR:{pr}/UI:{ui}/S:U/C:{c}/I:{i}/A:H"
    for av in "NAL" for ac in "LH" for pr in "NLH" for ui in "NR" for c in "HL" for i in "HN"
]  # fmt: skip


def synthetic_report(size: int, *, salt: str) -> bytes:
    vulnerabilities = [
        {
            "VulnerabilityID": f"CVE-2099-{index:05d}",
            "PkgName": f"package-{index % 700}",
            "InstalledVersion": f"1.{index % 17}.0",
            "FixedVersion": f"1.{index % 17}.1",
            "Severity": SEVERITIES[index % len(SEVERITIES)],
            "SeveritySource": "nvd",
            "Title": f"Synthetic vulnerability {index} ({salt})",
            "CweIDs": [f"CWE-{79 + index % 40}"],
            **(
                {"CVSS": {"nvd": {"V3Vector": VECTORS[index % len(VECTORS)], "V3Score": 7.5}}}
                if index % 4
                else {}
            ),
        }
        for index in range(size)
    ]
    report = {
        "SchemaVersion": 2,
        "ArtifactName": f"bench/{salt}:1",
        "ArtifactType": "container_image",
        "Results": [{"Target": f"bench/{salt}:1 (debian 12)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": vulnerabilities}],
    }  # fmt: skip
    return json.dumps(report).encode()


def _copy(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _vulnerabilities(data: bytes) -> Iterator[tuple[dict[str, Any], str, str]]:
    """json.loads, then each vulnerability with its location and a fingerprint."""
    for result in json.loads(data)["Results"]:
        location = result["Target"]
        for v in result["Vulnerabilities"]:
            fingerprint = hashlib.sha256(
                f"trivy|{v['VulnerabilityID']}|{location}|{v['PkgName']}".encode()
            ).hexdigest()
            yield v, location, fingerprint


def raw_same_rows(data: bytes, *, table: str, team_id: int, scan_id: int) -> float:
    """One full finding row per vulnerability, values taken as they come, COPY'd to `table`."""
    started = time.perf_counter()
    now = timezone.now()
    rows = [
        (
            team_id, scan_id, None, "trivy", v["Severity"].lower(), v["Title"], "", "",
            v["VulnerabilityID"], v["PkgName"], v["InstalledVersion"], v["FixedVersion"],
            location, location, json.dumps(v), "[]", "[]",
            # The structured fields as the report states them (no validation or scoring).
            (v.get("CVSS") or {}).get("nvd", {}).get("V3Vector", ""),
            (v.get("CVSS") or {}).get("nvd", {}).get("V3Score"), "", None,
            json.dumps(v["CweIDs"]), json.dumps([v["VulnerabilityID"]]), None, None, False,
            bool(v["FixedVersion"]), fingerprint, "open", now, now, now, True, None,
        )
        for v, location, fingerprint in _vulnerabilities(data)
    ]  # fmt: skip
    _copy(table, FINDING_COLUMNS, rows)
    return time.perf_counter() - started


def raw_narrow(data: bytes) -> float:
    """The narrowest floor: nine columns into an unlogged temporary table."""
    started = time.perf_counter()
    rows = [
        (
            "trivy", v["Severity"].lower(), v["Title"], v["VulnerabilityID"], v["PkgName"],
            v["InstalledVersion"], v["FixedVersion"], location, fingerprint,
        )
        for v, location, fingerprint in _vulnerabilities(data)
    ]  # fmt: skip
    _copy(
        "raw_findings",
        ("tool", "severity", "title", "rule_id", "component", "version", "fixed_version",
         "location", "fingerprint"),
        rows,
    )  # fmt: skip
    return time.perf_counter() - started


def test_importing_20000_vulnerabilities_against_json_load_and_copy(
    require_postgres: None, user: Any, team: Any
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_plain_finding (LIKE scans_finding INCLUDING DEFAULTS "
            "INCLUDING GENERATED INCLUDING IDENTITY)"
        )
        cursor.execute(
            "CREATE TEMP TABLE raw_findings (tool text, severity text, title text, rule_id text,"
            " component text, version text, fixed_version text, location text, fingerprint text)"
        )
    holder = Scan.objects.create(team=team, workflow_name="raw COPY", status=ScanStatus.COMPLETED)
    plain, indexed, narrow, imports, reimports = [], [], [], [], []
    load_before = os.getloadavg()[0]

    def copy_indexed(data: bytes) -> None:
        indexed.append(
            raw_same_rows(data, table="scans_finding", team_id=team.pk, scan_id=holder.pk)
        )
        Finding.objects.filter(scan=holder).delete()

    try:
        for round_ in range(ROUNDS):
            data = synthetic_report(VULNERABILITIES, salt=f"r{round_}")
            narrow.append(raw_narrow(data))
            plain.append(
                raw_same_rows(data, table="bench_plain_finding", team_id=team.pk, scan_id=holder.pk)
            )
            # The goal's pair side by side, in turns first (a load that drifts within a round
            # then favours neither): the COPY of the same rows into the findings table, and the
            # import of the report.
            if round_ % 2 == 0:
                copy_indexed(data)
            started = time.perf_counter()
            scan = scan_import(
                team=team, user=user, tool="trivy", data=data, target=f"bench/r{round_}:1"
            )
            imports.append(time.perf_counter() - started)
            if round_ % 2 == 1:
                copy_indexed(data)
            assert Finding.objects.filter(scan=scan).count() == VULNERABILITIES
            # The same report again (a rescan of an unchanged image): every fingerprint has a
            # state and a latest row already, which the new rows take over.
            started = time.perf_counter()
            again = scan_import(
                team=team, user=user, tool="trivy", data=data, target=f"bench/r{round_}:1"
            )
            reimports.append(time.perf_counter() - started)
            assert Finding.objects.filter(scan=again, is_latest=True).count() == VULNERABILITIES
            assert not Finding.objects.filter(scan=scan, is_latest=True).exists()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_plain_finding")

    # Best of the rounds (another process's load only ever adds time). The goal is judged on the
    # median of each round's own ratio: the import and the COPY into the findings table side by
    # side, at the same table size (the first round's COPY goes into a nearly empty table and
    # took half the later rounds' under load 7, so the best of each is no pair).
    import_s, reimport_s = min(imports), min(reimports)
    plain_s, indexed_s, narrow_s = min(plain), min(indexed), min(narrow)
    ratio = import_s / plain_s
    paired = [i / c for i, c in zip(imports, indexed, strict=True)]
    indexed_ratio = statistics.median(paired)
    print(
        f"\n[ingest, PostgreSQL] {VULNERABILITIES:,} Trivy vulnerabilities ({len(data) / 2**20:.1f} MiB), "
        f"best of {ROUNDS} interleaved rounds; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after:\n"
        f"  import (parse + normalize + dedup + triage states + store): {import_s:.3f} s, "
        f"{VULNERABILITIES / import_s:,.0f} findings/s\n"
        f"  raw json.loads + COPY of the same rows, plain table:        {plain_s:.3f} s -> "
        f"import is {ratio:.2f}x (goal <= 3x: {'met' if ratio <= 3 else 'NOT met'})\n"
        f"  the same report imported again (all 20,000 seen before):     {reimport_s:.3f} s -> "
        f"{reimport_s / plain_s:.2f}x the plain table, {reimport_s / import_s:.2f}x the first import\n"
        f"  raw json.loads + COPY of the same rows, the findings table: {indexed_s:.3f} s; "
        f"import / COPY by round {', '.join(f'{r:.2f}' for r in paired)}, median "
        f"{indexed_ratio:.2f}x (goal <= 1.5x: {'met' if indexed_ratio <= 1.5 else 'NOT met'})\n"
        f"  raw json.loads + COPY of 9 columns, temporary table:        {narrow_s:.3f} s -> "
        f"import is {import_s / narrow_s:.2f}x\n"
        f"  rounds: import {_listed(imports)}; COPY into the findings table {_listed(indexed)}; "
        f"again {_listed(reimports)}; plain {_listed(plain)}"
    )
    # A guard against regressions of the import's own work, looser than the goal: on a loaded
    # machine the best round of each can still fall at different moments.
    assert indexed_ratio <= 3.5, f"{indexed_ratio:.1f}x a COPY into the findings table"


def _listed(seconds: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in seconds)


def test_memory_of_importing_20000_vulnerabilities_against_json_loads(
    require_postgres: None, user: Any, team: Any
) -> None:
    """Peak Python memory (tracemalloc) of the import against `json.loads` of the same report, in
    the same run: what one worker needs for a large upload (the report's bytes themselves are
    the caller's and not counted on either side)."""
    import tracemalloc

    data = synthetic_report(VULNERABILITIES, salt="memory")
    tracemalloc.start()
    try:
        document = json.loads(data)
        json_peak = tracemalloc.get_traced_memory()[1]
        del document
        tracemalloc.reset_peak()
        scan = scan_import(team=team, user=user, tool="trivy", data=data, target="bench/memory:1")
        import_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert Finding.objects.filter(scan=scan).count() == VULNERABILITIES
    ratio = import_peak / json_peak
    print(
        f"\n[ingest, memory] {VULNERABILITIES:,} Trivy vulnerabilities ({len(data) / 2**20:.1f} MiB): "
        f"json.loads peaks at {json_peak / 2**20:.1f} MiB, the import at "
        f"{import_peak / 2**20:.1f} MiB ({ratio:.2f}x)"
    )
    # Parsed findings, their rows and the triage lists are alive at once: about 2.6x here.
    assert ratio <= 4, f"the import took {ratio:.1f}x the memory of json.loads"
