"""Ingestion benchmark (`make bench`): a synthetic Trivy report with 20,000 vulnerabilities is
imported (parse + normalize + dedup + store as findings) into PostgreSQL, against the raw path
measured in the same run: `json.loads` + `COPY` of the same rows into a plain table.
Goal: ≤ 3x the raw path."""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from typing import Any

import pytest
from django.db import connection

from scans.imports import scan_import
from scans.models import Finding

pytestmark = [pytest.mark.django_db(transaction=True)]

VULNERABILITIES = 20_000
ROUNDS = 3
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]


def synthetic_report(size: int, *, salt: str) -> bytes:
    vulnerabilities = [
        {
            "VulnerabilityID": f"CVE-2099-{index:05d}",
            "PkgName": f"package-{index % 700}",
            "InstalledVersion": f"1.{index % 17}.0",
            "FixedVersion": f"1.{index % 17}.1",
            "Severity": SEVERITIES[index % len(SEVERITIES)],
            "Title": f"Synthetic vulnerability {index} ({salt})",
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


def raw_copy(data: bytes) -> float:
    """The floor: decode the JSON and COPY one row per vulnerability, nothing else."""
    started = time.perf_counter()
    document = json.loads(data)
    rows = []
    for result in document["Results"]:
        for v in result["Vulnerabilities"]:
            location = f"{result['Target']} {v['PkgName']}"
            fingerprint = hashlib.sha256(
                f"trivy|{v['VulnerabilityID']}|{location}|{v['PkgName']}".encode()
            ).hexdigest()
            rows.append(
                (
                    "trivy",
                    v["Severity"].lower(),
                    v["Title"],
                    v["VulnerabilityID"],
                    v["PkgName"],
                    v["InstalledVersion"],
                    v["FixedVersion"],
                    location,
                    fingerprint,
                )
            )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS raw_findings (tool text, severity text, title text, rule_id text,"
            " component text, version text, fixed_version text, location text, fingerprint text)"
        )
        cursor.execute("TRUNCATE raw_findings")
        with cursor.cursor.copy(
            "COPY raw_findings (tool, severity, title, rule_id, component, version, fixed_version, location, fingerprint) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - started


def test_importing_20000_vulnerabilities_against_json_load_and_copy(
    require_postgres: None, user: Any, team: Any
) -> None:
    raw_times, import_times = [], []
    for round_ in range(ROUNDS):
        data = synthetic_report(VULNERABILITIES, salt=f"r{round_}")
        raw_times.append(raw_copy(data))
        started = time.perf_counter()
        scan = scan_import(
            team=team, user=user, tool="trivy", data=data, target=f"bench/r{round_}:1"
        )
        import_times.append(time.perf_counter() - started)
        assert Finding.objects.filter(scan=scan).count() == VULNERABILITIES

    raw_s, import_s = statistics.median(raw_times), statistics.median(import_times)
    ratio = import_s / raw_s
    print(
        f"\n[ingest, PostgreSQL] {VULNERABILITIES:,} Trivy vulnerabilities ({len(data) / 2**20:.1f} MiB): "
        f"import (parse + store) median {import_s:.2f} s, raw json.loads + COPY median {raw_s:.2f} s, "
        f"ratio {ratio:.2f}x (goal ≤ 3x: {'met' if ratio <= 3 else 'NOT met'}); {VULNERABILITIES / import_s:,.0f} findings/s"
    )
    # The goal (≤ 3x) is not met yet (see the issue note); this guards against regressions.
    assert ratio <= 40, f"{ratio:.1f}x: ingestion regressed"
