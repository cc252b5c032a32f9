"""django-q2 task entry point for PDF reports (ids, never objects)."""

from __future__ import annotations


def report_render(report_id: int) -> str:
    from scans.reports.pdf import report_render as render

    return render(report_id)
