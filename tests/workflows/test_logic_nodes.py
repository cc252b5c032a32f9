from __future__ import annotations

from pathlib import Path

import pytest

from scans.engine.runtime import FindingData, StepContext, StepFailed
from scans.logic import condition, delay, rules
from targets.items import Item

pytestmark = pytest.mark.smoke


def context(
    node: str, config: dict, items: list[Item], findings: list[FindingData], **extra
) -> StepContext:
    logged: list[str] = []
    ctx = StepContext(
        scan_id=1, step_id=1, node_id=node, node_type=node, team_id=1, config=config, items=items,
        findings=findings, timeout_s=60, workdir=Path("/nonexistent"), executor=None,  # type: ignore[arg-type]
        in_scope=lambda item: True, log=logged.append, heartbeat=lambda: None,
        is_cancelled=extra.get("is_cancelled", lambda: False),
    )  # fmt: skip
    ctx.logged = logged  # type: ignore[attr-defined]
    return ctx


def finding(
    severity: str, title: str = "t", location: str = "", tool: str = "nuclei", rule_id: str = ""
) -> FindingData:
    return FindingData(
        tool=tool, severity=severity, title=title, location=location, rule_id=rule_id
    )


ITEMS = [
    Item("host", "127.0.0.1"),
    Item.service("127.0.0.1", 80),
    Item.service("127.0.0.1", 22),
    Item("url", "https://127.0.0.1/"),
    Item("url", "http://127.0.0.1:8080/x"),
]


def test_condition_passes_findings_at_or_above_the_severity() -> None:
    found = [finding("low"), finding("high"), finding("critical"), finding("medium")]
    config = {"min_severity": "high", "min_count": 1, "item_kinds": "", "ports": ""}
    result = condition.run(context("high", config, ITEMS, found))
    assert [f.severity for f in result.findings] == ["high", "critical"]
    assert result.items == ITEMS


def test_condition_emits_nothing_when_fewer_than_min_count_match() -> None:
    config = {"min_severity": "high", "min_count": 2, "item_kinds": "", "ports": ""}
    ctx = context("high", config, ITEMS, [finding("high"), finding("low")])
    result = condition.run(ctx)
    assert result.items == [] and result.findings == []
    assert "not met" in ctx.logged[0]  # type: ignore[attr-defined]


def test_condition_with_min_count_zero_filters_items_by_kind_and_port() -> None:
    config = {
        "min_severity": "info",
        "min_count": 0,
        "item_kinds": "service,url",
        "ports": "80,443",
    }
    result = condition.run(context("web", config, ITEMS, []))
    assert [i.value for i in result.items] == ["127.0.0.1:80/tcp", "https://127.0.0.1/"]


def test_condition_port_filter_applies_to_finding_locations() -> None:
    found = [
        finding("high", location="127.0.0.1:8080"),
        finding("high", location="http://127.0.0.1/"),
        finding("high"),
    ]
    config = {"min_severity": "info", "min_count": 1, "item_kinds": "", "ports": "8000-8100"}
    result = condition.run(context("c", config, [], found))
    assert [f.location for f in result.findings] == ["127.0.0.1:8080"]


def test_condition_refuses_a_bad_port_list_and_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="not a port"):
        condition.parse_ports("80,http")
    with pytest.raises(ValueError, match="outside"):
        condition.parse_ports("0-70000")
    with pytest.raises(ValueError, match="unknown item kind"):
        condition.parse_kinds("host,cookie")


def test_rules_set_severity_tag_and_drop_in_order() -> None:
    config = {
        "rules": [
            {"field": "rule_id", "regex": r"^CVE-2020-", "action": "set_severity", "value": "low"},
            {"field": "severity", "regex": "^low$", "action": "tag", "value": "old-cve"},
            {"field": "title", "regex": "(?i)test fixture", "action": "drop", "value": ""},
        ]
    }
    found = [
        finding("critical", "openssl overflow", rule_id="CVE-2020-1"),
        finding("high", "Test fixture secret", tool="gitleaks"),
        finding("high", "real one", rule_id="CVE-2024-9"),
    ]
    result = rules.run(context("rules", config, ITEMS, found))
    assert [(f.title, f.severity, f.tags) for f in result.findings] == [
        ("openssl overflow", "low", ["old-cve"]),
        ("real one", "high", []),
    ]
    assert result.items == ITEMS


@pytest.mark.parametrize(
    "pattern, reason",
    [
        ("(a+)+$", "quantifier may not apply"),
        ("(a|aa)*b", "quantifier may not apply"),
        (r"(\w+)=\1", "back-references"),
        ("a*a*a*b", "too many quantifiers"),
        ("x" * 201, "at most 200"),
        ("(unclosed", "not a valid regular expression"),
    ],
)
def test_rules_refuse_patterns_that_could_backtrack_catastrophically(
    pattern: str, reason: str
) -> None:
    with pytest.raises(rules.UnsafePattern, match=reason):
        rules.compile_safe(pattern)


@pytest.mark.parametrize(
    "pattern", [r".*openssl.*", r"^CVE-\d{4}-\d+$", r"[a-z]+\.[a-z]+", r"(?:ab)+", r"^(?!test)"]
)
def test_rules_accept_ordinary_patterns(pattern: str) -> None:
    assert rules.compile_safe(pattern)


def test_rules_stop_when_the_step_is_cancelled() -> None:
    config = {"rules": [{"field": "title", "regex": "x", "action": "drop", "value": ""}]}
    with pytest.raises(StepFailed, match="cancelled"):
        rules.run(context("rules", config, [], [finding("low")], is_cancelled=lambda: True))


def test_delay_passes_its_input_through_and_describes_the_wait() -> None:
    found = [finding("low")]
    result = delay.run(context("wait", {"seconds": 30}, ITEMS, found))
    assert result.items == ITEMS and result.findings == found
    assert delay.commands({"seconds": 30}, ITEMS)[0].argv == ["logic:delay", "--seconds", "30"]
