"""Reading a bulk import (pasted text, CSV, or API rows) into rows, and the per-line report.

Text: one target per line; blank lines and lines starting with `#` are skipped; `value  # note`
makes the comment the note; a leading `!` makes the line an exclusion. Pasted text whose first
line is a CSV header (`value,kind,...`) is read as CSV.

CSV: columns `value,kind,note,expires_at` and optionally `excluded`, with or without that header
line. `kind` empty or `auto` means detected; `expires_at` is an ISO 8601 time or a date (a date
means "through that day": the authorization ends at the next midnight UTC).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from targets.parsing import shown

MAX_BULK_LINES = 10_000
MODES = ("all_or_nothing", "valid_only")
CSV_COLUMNS = ("value", "kind", "note", "expires_at", "excluded")
_COMMENT_RE = re.compile(r"\s+#")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = {"1", "true", "yes", "y", "x", "excluded", "exclude"}
_FALSE = {"", "0", "false", "no", "n"}


class BulkTooLarge(Exception):
    """More lines than one import takes."""


@dataclass
class BulkRow:
    """One line of input, before parsing the value."""

    line: int
    value: str
    kind: str | None = None
    note: str = ""
    expires_at: datetime | None = None
    excluded: bool = False
    error: str = ""  # set when the line's other columns are already wrong


@dataclass
class BulkLine:
    """What happened (or would happen) to one line."""

    line: int
    input: str  # the value as typed, safe to show
    status: str  # added | duplicate | error
    kind: str = ""
    value: str = ""
    excluded: bool = False
    reason: str = ""
    target_id: int | None = None


@dataclass
class BulkReport:
    mode: str
    committed: bool
    lines: list[BulkLine] = field(default_factory=list)
    message: str = ""

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line.status == status)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"added": 0, "duplicate": 0, "error": 0}
        for line in self.lines:
            counts[line.status] += 1
        return {**counts, "total": len(self.lines)}

    @property
    def errors(self) -> list[BulkLine]:
        return [line for line in self.lines if line.status == "error"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "committed": self.committed,
            "message": self.message,
            "counts": self.counts,
            "lines": [asdict(line) for line in self.lines],
        }


def parse_expiry(text: str) -> datetime | None:
    """An ISO 8601 time (UTC when it names no zone) or a date (through that day, UTC)."""
    text = text.strip()
    if not text:
        return None
    try:
        # A bare date first: parse_datetime would read it as that day's midnight.
        day = parse_date(text) if _DATE_RE.fullmatch(text) else None
        moment = None if day else parse_datetime(text)
    except ValueError:
        moment, day = None, None
    if moment is not None:
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if day is not None:
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
    raise ValueError(
        f"expires_at `{shown(text, 40)}` is not a date (YYYY-MM-DD) or an ISO 8601 time"
    )


def _limit(rows: list[BulkRow]) -> list[BulkRow]:
    if len(rows) > MAX_BULK_LINES:
        raise BulkTooLarge(
            f"More than {MAX_BULK_LINES:,} lines: one import takes at most {MAX_BULK_LINES:,}; split the list."
        )
    return rows


def _exclusion(value: str) -> tuple[str, bool]:
    stripped = value.strip()
    if stripped.startswith("!"):
        return stripped[1:].strip(), True
    return value, False


def rows_from_text(text: str) -> list[BulkRow]:
    """Rows from pasted text (or from CSV, when it starts with a CSV header line)."""
    # split("\n"), not splitlines(): line numbers must be the ones the user sees, and other
    # separators (\x1c, U+2028…) stay inside the line, where parsing refuses them.
    lines = text.split("\n")
    first = next((ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")), "")
    if first.lower().startswith("value,"):
        return rows_from_csv(text)
    rows: list[BulkRow] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        note = ""
        comment = _COMMENT_RE.search(stripped)
        if comment:
            note, stripped = stripped[comment.end() :].strip(), stripped[: comment.start()]
        value, excluded = _exclusion(stripped)
        rows.append(BulkRow(line=number, value=value, note=note, excluded=excluded))
        if len(rows) > MAX_BULK_LINES:
            break
    return _limit(rows)


def rows_from_csv(text: str) -> list[BulkRow]:
    """Rows from CSV `value,kind,note,expires_at[,excluded]`, header line optional."""
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[BulkRow] = []
    columns: tuple[str, ...] = CSV_COLUMNS
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or not "".join(cells).strip() or cells[0].strip().startswith("#"):
                continue
            names = tuple(c.strip().lower() for c in cells)
            if not rows and "value" in names:  # the header line
                unknown = [n for n in names if n not in CSV_COLUMNS]
                if unknown:
                    rows.append(
                        BulkRow(
                            line=line,
                            value="",
                            error=f"unknown CSV column `{shown(unknown[0], 30)}` (columns: {', '.join(CSV_COLUMNS)})",
                        )
                    )
                    return rows
                columns = names
                continue
            rows.append(
                _csv_row(line, dict(zip(columns, cells, strict=False)), len(cells) > len(columns))
            )
            if len(rows) > MAX_BULK_LINES:
                break
    except csv.Error as exc:
        rows.append(
            BulkRow(line=reader.line_num, value="", error=f"CSV cannot be read from here on: {exc}")
        )
    return _limit(rows)


def _csv_row(line: int, cells: Mapping[str, str], too_many: bool) -> BulkRow:
    value, excluded = _exclusion(cells.get("value", ""))
    row = BulkRow(line=line, value=value, note=cells.get("note", "").strip(), excluded=excluded)
    if too_many:
        row.error = f"more columns than {', '.join(CSV_COLUMNS)}"
        return row
    kind = cells.get("kind", "").strip().lower()
    row.kind = None if kind in ("", "auto") else kind
    flag = cells.get("excluded", "").strip().lower()
    if flag in _TRUE:
        row.excluded = True
    elif flag not in _FALSE:
        row.error = f"excluded must be true or false, not `{shown(flag, 20)}`"
        return row
    try:
        row.expires_at = parse_expiry(cells.get("expires_at", ""))
    except ValueError as exc:
        row.error = str(exc)
    return row


def rows_from_dicts(items: Iterable[Mapping[str, Any]]) -> list[BulkRow]:
    """Rows from the API's `rows` (already type-checked by the serializer)."""
    rows: list[BulkRow] = []
    for number, item in enumerate(items, start=1):
        value, excluded = _exclusion(str(item.get("value", "")))
        row = BulkRow(
            line=number,
            value=value,
            kind=item.get("kind") or None,
            note=str(item.get("note") or ""),
            excluded=bool(item.get("excluded")) or excluded,
        )
        expires = item.get("expires_at")
        if isinstance(expires, datetime):
            row.expires_at = expires
        elif expires:
            try:
                row.expires_at = parse_expiry(str(expires))
            except ValueError as exc:
                row.error = str(exc)
        rows.append(row)
        if len(rows) > MAX_BULK_LINES:
            break
    return _limit(rows)
