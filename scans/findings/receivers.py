"""Signal receivers of findings triage and the dashboard: a finished scan closes the findings it
no longer reports and refreshes the team's figures; a deleted scan hands "latest occurrence" back
to the rows that remain."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from scans.findings.triage import (
    findings_latest_refresh,
    open_findings_refresh_soon,
    scan_findings_close_missing,
)
from scans.models import Finding, Scan
from scans.signals import scan_finished


@receiver(scan_finished, dispatch_uid="scans.findings_after_scan")
def findings_after_scan(sender: Any, scan_id: int, **kwargs: Any) -> None:

    scan = Scan.objects.filter(pk=scan_id).first()
    if scan is None:
        return
    scan_findings_close_missing(scan)
    # Recounting a large team takes seconds: a worker does it (imports end inside a request).
    open_findings_refresh_soon(scan.team_id)


@receiver(pre_delete, sender=Scan, dispatch_uid="scans.scan_fingerprints_before_delete")
def scan_fingerprints_before_delete(sender: Any, instance: Scan, **kwargs: Any) -> None:
    instance._deleted_fingerprints = list(  # type: ignore[attr-defined]
        Finding.objects.filter(scan=instance, is_latest=True).values_list("fingerprint", flat=True)
    )


@receiver(post_delete, sender=Scan, dispatch_uid="scans.findings_after_scan_delete")
def findings_after_scan_delete(sender: Any, instance: Scan, **kwargs: Any) -> None:

    fingerprints = getattr(instance, "_deleted_fingerprints", [])
    if fingerprints:
        findings_latest_refresh(team_id=instance.team_id, fingerprints=fingerprints)
        open_findings_refresh_soon(instance.team_id)
