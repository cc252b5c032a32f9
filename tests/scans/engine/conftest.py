"""The scanning fixtures live in tests/scanning.py (a plugin for the whole suite)."""

from __future__ import annotations

from tests.scanning import wait_scan_done

__all__ = ["wait_scan_done"]
