"""Import speed of every format read since the second wave (`make bench`, PostgreSQL): the
largest sample of each under shared/data/scanner-outputs is imported whole (detection, parsing,
normalizing, dedup, triage states, findings and inventory), median of 3 rounds, printed as
findings/s and against a baseline measured in the same run on the same file: the bare read of
the document (json.loads, XML or CSV) plus a COPY of as many finding rows into the findings
table (what storing them costs before any of the import's own work)."""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring
from django.db import connection
from django.utils import timezone

from scans.findings.storage import FINDING_COLUMNS
from scans.imports.detection import empty_form, report_detect
from scans.imports.services import scan_import
from scans.models import Finding, Scan, ScanStatus
from scans.tools import report_parse
from tests.scanning import SCANNER_OUTPUTS
from tests.scans.imports.test_every_sample import SAMPLES

pytestmark = [pytest.mark.django_db(transaction=True)]

ROUNDS = 3
NEW_TOOLS = {
    "zap", "burp", "nessus", "openvas", "nikto", "wpscan", "testssl", "sslscan", "sslyze",
    "masscan", "naabu", "httpx", "whatweb", "ffuf", "gobuster", "dirsearch", "semgrep",
    "trufflehog", "osv_scanner", "trivy_operator", "sarif", "cyclonedx",
}  # fmt: skip


def largest_per_tool() -> dict[str, Path]:
    largest: dict[str, Path] = {}
    for path in SAMPLES:
        data = path.read_bytes()
        if empty_form(data):
            continue
        tool = report_detect(data).tool.type
        if tool in NEW_TOOLS and (tool not in largest or largest[tool].stat().st_size < len(data)):
            largest[tool] = path
    return largest


def bare_read(data: bytes) -> None:
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            json.loads(data)
        except ValueError:
            [json.loads(line) for line in data.splitlines() if line.strip()]
    elif head == b"<":
        fromstring(data)
    else:
        list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))))


def baseline(data: bytes, findings: int, team_id: int, scan_id: int) -> float:
    """The bare read plus a COPY of `findings` full rows into the findings table."""
    started = time.perf_counter()
    bare_read(data)
    now = timezone.now()
    rows = [
        (
            team_id, scan_id, None, "bench", "medium", f"finding {i}", "", "", f"rule-{i}", "", "",
            "", f"place-{i}", "", "{}", "[]", "[]", "", None, "", None, "[]", "[]", None, None,
            False, False, f"{scan_id}-{time.monotonic_ns()}-{i}", "open", now, now, now, True, None,
        )
        for i in range(findings)
    ]  # fmt: skip
    quoted = ", ".join(connection.ops.quote_name(c) for c in FINDING_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY scans_finding ({quoted}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return time.perf_counter() - started


def test_importing_the_largest_sample_of_each_new_format(
    require_postgres: None, user: Any, team: Any
) -> None:
    holder = Scan.objects.create(team=team, workflow_name="raw COPY", status=ScanStatus.COMPLETED)
    lines = []
    for tool, path in sorted(largest_per_tool().items()):
        data = path.read_bytes()
        detected = report_detect(data)
        findings = len(report_parse(detected.tool, detected.format, data).findings)
        imports, bases, parses = [], [], []
        for round_ in range(ROUNDS):
            started = time.perf_counter()
            report_parse(detected.tool, detected.format, data)
            parses.append(time.perf_counter() - started)
            started = time.perf_counter()
            scan = scan_import(
                team=team, user=user, data=data, filename=path.name, label=f"bench {tool} {round_}"
            )
            imports.append(time.perf_counter() - started)
            assert scan.findings_count == findings
            bases.append(baseline(data, findings, team.pk, holder.pk))
            Finding.objects.filter(scan=holder).delete()
        import_s, base_s, parse_s = (statistics.median(t) for t in (imports, bases, parses))
        lines.append(
            f"  {tool:<15} {path.relative_to(SCANNER_OUTPUTS)!s:<58} {len(data) / 1024:>7.0f} KiB "
            f"{findings:>5} findings  import {import_s * 1000:>7.1f} ms "
            f"({findings / import_s:>7,.0f} findings/s; parse alone {parse_s * 1000:.1f} ms)  "
            f"baseline {base_s * 1000:>6.1f} ms -> {import_s / base_s:.1f}x"
        )
    print(
        f"\n[import formats, PostgreSQL] the largest sample of each format, medians of {ROUNDS} "
        "(baseline: bare read + COPY of as many rows into the findings table):\n" + "\n".join(lines)
    )
    assert len(lines) == len(NEW_TOOLS)
