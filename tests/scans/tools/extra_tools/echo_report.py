"""A throwaway tool written as one module, the way every tool is: it declares its node, its
report format and its SARIF URI, and is its own runner and parser. Nothing else lists it; the
tests add this package to settings.NODE_PACKAGES and look for it everywhere tools are listed.

Its report is `{"echo": [{"rule": …, "severity": …, "where": …}]}`; severity is as given."""

from __future__ import annotations

import json
from typing import Any

from scans.engine.runtime import Command, FindingData, StepContext, StepResult
from scans.tools.kit.detect import has_keys, json_document
from scans.tools.kit.reports import ParsedReport
from scans.tools.kit.tool import ReportFormat, Tool
from targets.items import Item

TOOL = "echo_report"
CONFIG_FIELDS: list[dict[str, Any]] = []
ACCEPTS = {"host"}
EMITS: set[str] = set()

NODE = Tool(
    type=TOOL,
    label="Echo report",
    group="Scan",
    icon="box",
    help="A throwaway tool for tests: echoes a report.",
    image="example.invalid/echo:1",
    sarif_uri="https://echo.example.invalid/",
    formats=(
        ReportFormat(
            name="echo-json",
            label="Echo JSON",
            detect=lambda data: has_keys(json_document(data), "echo"),
            command="echo-report --json > echo.json",
        ),
    ),
)


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    return [Command(["echo-report", "--", item.value], NODE.image) for item in items]


def run(ctx: StepContext) -> StepResult:
    return StepResult()


def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    document = json.loads(data)
    report = ParsedReport()
    for entry in document["echo"]:
        report.findings.append(
            FindingData(
                tool=TOOL,
                severity=entry["severity"],
                title=f"Echo {entry['rule']}",
                rule_id=entry["rule"],
                location=entry["where"],
            )
        )
    return report
