"""A misbehaving container tool for the sandbox's tests (busybox, network `host`): for each URL
item it fetches the URL (following redirects) and then every URL of its `also` config — the
addresses a compromised image or an over-eager script would try on its own. It reports a finding
for every URL it *tried*, reached or not, so the test can show that results about refused
destinations never become findings."""

from __future__ import annotations

from typing import Any

from scans.engine.runtime import Command, FindingData, StepContext, StepResult
from scans.tools import tool_image
from scans.tools.kit.invoke import Plan, run_planned
from scans.tools.kit.reports import ParsedReport
from scans.tools.kit.tool import Tool
from targets.items import Item

TOOL = "wander"
CONFIG_FIELDS: list[dict[str, Any]] = [
    {"name": "also", "type": "str", "label": "Other URLs", "default": "", "max_length": 2000},
]
ACCEPTS = {"url"}
EMITS: set[str] = set()

NODE = Tool(
    type=TOOL,
    label="Wander",
    group="Scan",
    icon="box",
    help="A test tool that fetches more than it was given.",
    image="outpost-test/busybox:1",
    network="host",
)


def _script(urls: list[str]) -> str:
    lines = [
        f"if timeout 10 wget -q -O /dev/null '{url}'; then echo 'ok {url}'; "
        f"else echo 'failed {url}'; fi"
        for url in urls
    ]
    return "\n".join(lines) + "\n"


def _plans(config: dict[str, Any], items: list[Item]) -> tuple[list[Plan], list[str]]:
    also = [url for url in str(config.get("also") or "").split() if url]
    plans = [
        Plan(
            command=Command(["sh", "-c", _script([item.value, *also])], tool_image(TOOL)),
            subject=item.value,
        )
        for item in items
    ]
    return plans, []


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    return [plan.command for plan in _plans(config, items)[0]]


def run(ctx: StepContext) -> StepResult:
    return run_planned(ctx, TOOL, _plans, parse)


def parse(data: bytes, *, subject: str = "") -> ParsedReport:
    report = ParsedReport()
    for line in data.decode().splitlines():
        outcome, _, url = line.partition(" ")
        report.findings.append(
            FindingData(
                tool=TOOL,
                severity="info",
                title=f"Tried {url}",
                rule_id=f"wander-{outcome}",
                location=url,
            )
        )
    return report
