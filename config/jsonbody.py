"""Request bodies as JSON, with a nesting limit (`API_MAX_JSON_DEPTH`, 64 by default).

Python's json parser recurses once per level: ~100,000 `[` fit in the 1 MiB body limit and
end in a RecursionError, which DRF's JSONParser does not catch (an unauthenticated 500 with a
full traceback in the log, on every JSON endpoint including `/auth/token`). No Outpost document
is more than a dozen levels deep, so anything past the limit is refused as bad input (400 naming
the limit): when the parser gives up on the nesting, and when a document the parser could read
is still deeper than the limit (walked without recursion). The API's parser, the builder's save
and the workflow import all read JSON through `json_loads_bounded`."""

from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant


class JSONTooDeep(ValueError):
    """The document nests arrays/objects deeper than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels (the limit)")
        self.limit = limit


def max_json_depth() -> int:
    return int(getattr(settings, "API_MAX_JSON_DEPTH", 64))


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays/objects in `value` nest deeper than `limit` (a scalar is depth 0,
    `[]` depth 1). Iterative, so it cannot itself run out of stack."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth + 1 > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_loads_bounded(text: str | bytes, *, max_depth: int | None = None, **options: Any) -> Any:
    """`json.loads`, refusing documents nested deeper than `max_depth` (default: the setting)
    with JSONTooDeep (a ValueError, like every other malformed document)."""
    limit = max_json_depth() if max_depth is None else max_depth
    try:
        value = json.loads(text, **options)
    except RecursionError:
        raise JSONTooDeep(limit) from None
    if json_depth_exceeds(value, limit):
        raise JSONTooDeep(limit)
    return value


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser (strict: no NaN/Infinity) with the nesting limit; every API view's
    default parser (settings.REST_FRAMEWORK)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read() if stream is not None else ""
            parse_constant = strict_constant if api_settings.STRICT_JSON else None
            return json_loads_bounded(text, parse_constant=parse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
