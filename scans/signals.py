"""`scan_finished(scan_id)`: sent after a scan reaches a final state (notifications, reports)."""

from __future__ import annotations

from django.dispatch import Signal

scan_finished = Signal()
