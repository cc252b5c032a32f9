"""`rules`: match findings by field and regular expression, then set their severity, drop them
or tag them. Rules apply in order to each finding; `drop` ends the finding's evaluation, a
changed severity is what later rules see. Items pass through unchanged.

Python's `re` has no timeout, so patterns are made safe *before* they are accepted:
- a pattern is at most MAX_PATTERN_LENGTH characters;
- back-references are refused (they make matching NP-hard);
- a quantifier may not apply to a group that itself holds a quantifier or an alternation
  (`(a+)+`, `(a|a)*`: the shapes of catastrophic backtracking);
- the remaining backtracking is bounded: each quantifier can split the text in at most
  MAX_TEXT_LENGTH ways, and the product over a sequence (the sum over alternatives) must stay
  under MAX_MATCH_COST: in effect at most two unbounded quantifiers in a row, which refuses
  `a*a*a*b` but allows `.*foo.*`, `[a-z]+\\.[a-z]+` and `^CVE-\\d{4}-\\d+$`;
- the text matched is the field's first MAX_TEXT_LENGTH characters (a scanned server chooses
  the titles it returns, so the text is hostile too).
The worst accepted pattern on the worst 300-character text measured about 60 ms per match;
`run` also stops between findings when the step is cancelled or timed out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from scans.engine.runtime import (
    SEVERITIES,
    Command,
    FindingData,
    StepContext,
    StepFailed,
    StepResult,
)
from targets.items import ITEM_KINDS, Item
from workflows.nodes.base import NodeType

MAX_PATTERN_LENGTH = 200
MAX_TEXT_LENGTH = 300
MAX_MATCH_COST = 100_000
MAX_RULES = 50
RULE_FIELDS = ("severity", "title", "rule_id", "component", "location", "tool")
ACTIONS = ("set_severity", "drop", "tag")
TAG_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")

CONFIG_FIELDS: list[dict[str, Any]] = [
    {
        "name": "rules", "type": "list", "default": [], "max_items": MAX_RULES,
        "help": "Applied in order to every finding; the first drop wins.",
        "fields": [
            {"name": "field", "type": "choice", "choices": list(RULE_FIELDS), "default": "title",
             "help": "The finding field to match."},
            {"name": "regex", "type": "str", "default": "", "max_length": MAX_PATTERN_LENGTH,
             "required": True, "validate": lambda pattern: compile_safe(pattern),
             "help": "A Python regular expression, searched anywhere in the field."},
            {"name": "action", "type": "choice", "choices": list(ACTIONS), "default": "set_severity",
             "help": "What to do with a matching finding."},
            {"name": "value", "type": "str", "default": "", "max_length": 40,
             "help": "The new severity (set_severity) or the tag (tag)."},
        ],
    },
]  # fmt: skip
ACCEPTS = set(ITEM_KINDS)
EMITS = set(ITEM_KINDS)

NODE = NodeType(
    type="rules",
    label="Rules",
    group="Logic",
    icon="list",
    help="Match findings by field and pattern to set their severity, drop or tag them.",
    order=20,
    passthrough=True,
    consumes_findings=True,
    replaces_findings=True,
)

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT}
_REFUSED = {sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS}


class UnsafePattern(ValueError):
    pass


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-patterns of one parsed element."""
    if op in _REPEATS:
        return [av[2]]
    if op is sre_constants.SUBPATTERN:
        return [av[3]]
    if op is sre_constants.BRANCH:
        return list(av[1])
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [av[1]]
    if op is sre_constants.ATOMIC_GROUP:
        return [av]
    return []


def _has_repeat_or_branch(pattern: Any) -> bool:
    for op, av in pattern:
        if (op in _REPEATS and av[1] > 1) or op is sre_constants.BRANCH:
            return True
        if any(_has_repeat_or_branch(child) for child in _children(op, av)):
            return True
    return False


def _cost(pattern: Any) -> int:
    """An upper bound of the ways a pattern can split the text (see the module docstring)."""
    total = 1
    for op, av in pattern:
        if op in _REFUSED:
            raise UnsafePattern("back-references are not allowed")
        if op in _REPEATS:
            low, high, body = av
            if high > 1 and _has_repeat_or_branch(body):
                raise UnsafePattern(
                    "a quantifier may not apply to a group with a quantifier or | inside"
                )
            span = min(high, MAX_TEXT_LENGTH) - min(low, MAX_TEXT_LENGTH) + 1
            element = max(span, 1) * _cost(body)
        elif op is sre_constants.BRANCH:
            element = sum(_cost(branch) for branch in av[1])
        else:
            element = 1
            for child in _children(op, av):
                element *= _cost(child)
        total = min(total * element, MAX_MATCH_COST + 1)
    return total


def compile_safe(pattern: str) -> re.Pattern[str]:
    """Compile a user's pattern, or raise UnsafePattern (a ValueError) saying why not."""
    if not pattern:
        raise UnsafePattern("a pattern is required")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise UnsafePattern(f"at most {MAX_PATTERN_LENGTH} characters")
    try:
        parsed = sre_parse.parse(pattern)
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise UnsafePattern(f"not a valid regular expression: {exc}") from None
    if _cost(list(parsed)) > MAX_MATCH_COST:
        raise UnsafePattern("too many quantifiers in a row: it could take too long to match")
    return compiled


def rule_problems(rule: dict[str, Any]) -> dict[str, str]:
    """Field -> problem for one rule whose fields already passed the schema (the pattern is
    checked by its field's `validate`)."""
    problems: dict[str, str] = {}
    action, value = rule.get("action"), str(rule.get("value") or "")
    if action == "set_severity" and value not in SEVERITIES:
        problems["value"] = f"set_severity needs one of {', '.join(SEVERITIES)}"
    elif action == "tag" and not TAG_RE.match(value):
        problems["value"] = "tag needs a tag of 1-40 letters, digits, _ . : -"
    return problems


def config_problems(config: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for index, rule in enumerate(config.get("rules") or []):
        for name, problem in rule_problems(rule).items():
            errors[f"rules[{index}].{name}"] = problem
    return errors


def apply_rules(
    rules: list[dict[str, Any]],
    findings: list[FindingData],
    is_cancelled: Callable[[], bool] = lambda: False,
) -> list[FindingData]:
    """The findings that survive, with their new severities and tags."""
    compiled = [(rule, compile_safe(str(rule["regex"]))) for rule in rules]
    kept: list[FindingData] = []
    for finding in findings:
        if is_cancelled():
            raise StepFailed("cancelled")
        dropped = False
        for rule, regex in compiled:
            text = str(getattr(finding, str(rule["field"]), ""))[:MAX_TEXT_LENGTH]
            if not regex.search(text):
                continue
            if rule["action"] == "drop":
                dropped = True
                break
            if rule["action"] == "set_severity":
                finding.severity = str(rule["value"])
            elif rule["action"] == "tag" and rule["value"] not in finding.tags:
                finding.tags.append(str(rule["value"]))
        if not dropped:
            kept.append(finding)
    return kept


def commands(config: dict[str, Any], items: list[Item]) -> list[Command]:
    argv = ["logic:rules"]
    for rule in config.get("rules") or []:
        argv += [
            "--rule",
            f"{rule.get('field')}~{rule.get('regex')}=>{rule.get('action')}:{rule.get('value', '')}",
        ]
    return [Command(argv=argv)]


def run(ctx: StepContext) -> StepResult:
    rules = list(ctx.config.get("rules") or [])
    kept = apply_rules(rules, list(ctx.findings), ctx.is_cancelled)
    ctx.log(
        f"{len(rules)} rule(s): {len(ctx.findings) - len(kept)} finding(s) dropped, {len(kept)} kept"
    )
    return StepResult(items=list(ctx.items), findings=kept)
