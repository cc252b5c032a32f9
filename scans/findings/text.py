"""Text renderings of a scan for terminals and CI logs (`?format=table`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from scans.engine.runtime import SEVERITIES
from scans.models import Finding, Scan


def text_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, max_width: int = 60
) -> str:
    """A plain fixed-width table; long cells are cut with an ellipsis."""

    def cell(value: object) -> str:
        text = "" if value is None else str(value).replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    body = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=False)), line]
    out.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in body
    )
    return "\n".join(out)


def scan_as_table(scan: Scan, findings: Iterable[Finding]) -> str:
    counts = scan.severity_counts or {}
    lines = [
        f"Scan #{scan.pk}  {scan.workflow_name}  status={scan.status}  mode={scan.mode}",
        "targets: " + ", ".join(t.get("value", "") for t in scan.target_snapshot),
        "findings: " + "  ".join(f"{s}={counts.get(s, 0)}" for s in SEVERITIES),
    ]
    if scan.error:
        lines.append(f"error: {scan.error}")
    lines.append("")
    lines.append(
        text_table(
            ["step", "type", "status", "seconds", "items", "findings", "error"],
            [
                (
                    s.node_id,
                    s.node_type,
                    s.status,
                    s.duration_s,
                    s.items_out,
                    s.findings_count,
                    s.error,
                )
                for s in scan.steps.all()
            ],
        )
    )
    lines.append("")
    lines.append(
        text_table(
            [
                "severity",
                "tool",
                "rule",
                "title",
                "location",
                "component",
                "version",
                "fixed",
                "status",
            ],
            [
                (
                    f.severity,
                    f.tool,
                    f.rule_id,
                    f.title,
                    f.location,
                    f.component,
                    f.version,
                    f.fixed_version,
                    f.status,
                )
                for f in findings
            ],
        )
    )
    return "\n".join(lines) + "\n"
