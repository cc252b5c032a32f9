"""The scans app's models, one module per topic: scans and steps (`scans.py`), findings and triage
(`findings.py`), the asset inventory with its links, sightings and history (`assets.py`). Everything is importable from `scans.models`."""

from __future__ import annotations

from scans.models.assets import Asset, AssetEvent, AssetKind, AssetLink, ScanAsset
from scans.models.findings import (
    AcceptanceState,
    Finding,
    FindingEvent,
    FindingState,
    OpenFindingsDay,
    Severity,
    severity_rank_expression,
)
from scans.models.scans import (
    SCAN_TERMINAL,
    STEP_TERMINAL,
    Artifact,
    Report,
    Scan,
    ScanLog,
    ScanStatus,
    ScanStep,
    StepStatus,
)

__all__ = [
    "SCAN_TERMINAL",
    "STEP_TERMINAL",
    "AcceptanceState",
    "Artifact",
    "Asset",
    "AssetEvent",
    "AssetKind",
    "AssetLink",
    "Finding",
    "FindingEvent",
    "FindingState",
    "OpenFindingsDay",
    "Report",
    "Scan",
    "ScanAsset",
    "ScanLog",
    "ScanStatus",
    "ScanStep",
    "Severity",
    "StepStatus",
    "severity_rank_expression",
]
