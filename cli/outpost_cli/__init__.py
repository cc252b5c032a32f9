"""Outpost's command line for CI pipelines (`outpost`): see `outpost --help`."""

from __future__ import annotations

__version__ = "0.1.0"
