"""Charts drawn on the server as SVG: the same markup goes into the dashboard page and into the
PDF report (weasyprint draws SVG), with no JavaScript and no chart library. Colours are SVG
presentation attributes, which the page's CSP (no inline styles) allows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from html import escape

from django.utils.safestring import SafeString, mark_safe

from scans.engine.runtime import SEVERITIES

SEVERITY_COLORS = {
    "critical": "#c026d3",
    "high": "#ef4444",
    "medium": "#f59e0b",
    "low": "#3b82f6",
    "info": "#64748b",
}


def nice_ticks(value: int, *, most: int = 5) -> list[int]:
    """Axis ticks from 0 to a round maximum at or above `value`: whole multiples of a step of
    1, 2 or 5 times a power of ten, at most `most` intervals. Every tick is a whole number and
    sits at its true height (ticks at 0, 1.25, 2.5… printed as 0, 1, 2, 3, 5 did not)."""
    value = max(int(value), 1)
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            intervals = -(-value // step)  # ceiling
            if intervals <= most:
                return [step * k for k in range(intervals + 1)]
        magnitude *= 10


def _fmt(n: int) -> str:
    return f"{n:,}"


def severity_bars_svg(
    counts: Mapping[str, int], *, width: int = 520, ink: str = "#e2e8f0", muted: str = "#94a3b8"
) -> SafeString:
    """Horizontal bars, one per severity, labelled with the count."""
    row_h, gap, label_w, pad_r = 26, 10, 78, 70
    height = len(SEVERITIES) * (row_h + gap) - gap + 4
    top = max([counts.get(s, 0) for s in SEVERITIES] + [1])
    bar_w = width - label_w - pad_r
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="Findings by severity" class="chart">'
    ]
    for i, severity in enumerate(SEVERITIES):
        n = int(counts.get(severity, 0))
        y = i * (row_h + gap) + 2
        w = 0 if n == 0 else max(3, round(bar_w * n / top))
        parts.append(
            f'<text x="0" y="{y + row_h * 0.68:.1f}" font-size="13" fill="{muted}" '
            f'font-family="DejaVu Sans, sans-serif">{severity.capitalize()}</text>'
            f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="{row_h}" rx="4" fill="{muted}" '
            f'fill-opacity="0.12"/>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{row_h}" rx="4" '
            f'fill="{SEVERITY_COLORS[severity]}"/>'
            f'<text x="{label_w + w + 8}" y="{y + row_h * 0.68:.1f}" font-size="13" font-weight="bold" '
            f'fill="{ink}" font-family="DejaVu Sans, sans-serif">{_fmt(n)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (numbers and fixed labels only)


def trend_svg(
    points: Sequence[tuple[date, Mapping[str, int]]],
    *,
    width: int = 720,
    height: int = 220,
    ink: str = "#e2e8f0",
    muted: str = "#94a3b8",
    grid: str = "#24324f",
) -> SafeString:
    """Stacked areas of open findings per day by severity (worst on top), with a y axis."""
    left, right, top_pad, bottom = 56, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    totals = [sum(int(c.get(s, 0)) for s in SEVERITIES) for _, c in points]
    ticks = nice_ticks(max([*totals, 1]))
    y_max = ticks[-1]
    n = len(points)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h - plot_h * v / y_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="Open findings per day" class="chart">'
    ]
    for v in ticks:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{grid}" '
            f'stroke-width="1"/><text x="{left - 8}" y="{y(v) + 4:.1f}" font-size="11" fill="{muted}" '
            f'text-anchor="end" font-family="DejaVu Sans, sans-serif">{_fmt(v)}</text>'
        )
    if n:
        # Cumulative from the least severe up, so each band sits on the ones below it.
        base = [0.0] * n
        layers = []
        for severity in reversed(SEVERITIES):
            upper = [base[i] + int(points[i][1].get(severity, 0)) for i in range(n)]
            layers.append((severity, list(base), upper))
            base = upper
        for severity, lower, upper in layers:
            if not any(u - lo for u, lo in zip(upper, lower, strict=True)):
                continue
            path = " ".join(f"{x(i):.1f},{y(upper[i]):.1f}" for i in range(n))
            back = " ".join(f"{x(i):.1f},{y(lower[i]):.1f}" for i in reversed(range(n)))
            parts.append(
                f'<polygon points="{path} {back}" fill="{SEVERITY_COLORS[severity]}" '
                f'fill-opacity="0.85"/>'
            )
        line = " ".join(f"{x(i):.1f},{y(totals[i]):.1f}" for i in range(n))
        parts.append(f'<polyline points="{line}" fill="none" stroke="{ink}" stroke-width="1.5"/>')
        for i in sorted({0, n // 2, n - 1}):
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 8}" font-size="11" fill="{muted}" '
                f'text-anchor="{anchor}" font-family="DejaVu Sans, sans-serif">'
                f"{escape(points[i][0].strftime('%b %d'))}</text>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (numbers, dates and fixed labels only)
