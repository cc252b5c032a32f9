"""Comparing a scan with the previous completed scan of the same workflow and targets."""

from __future__ import annotations

from dataclasses import dataclass, field

from scans.models import Finding, Scan, ScanStatus


@dataclass
class ScanDiff:
    """Fingerprints of a scan against the previous one. `new` and `still_open` hold only open
    findings: a false positive or an accepted risk is never counted as open; those are
    `triaged` (accepted or false positive, new or not)."""

    scan: Scan
    previous: Scan | None
    new: list[str]  # fingerprints
    fixed: list[str]
    still_open: list[str]
    triaged: list[str] = field(default_factory=list)


def scan_previous(scan: Scan) -> Scan | None:
    """The last completed scan before this one of the same workflow (imports: the same label and
    tool) and the same targets; none for a demo, whose synthetic findings must never read as new
    or fixed against a real scan (real scans never compare with a demo either)."""
    if scan.mode == Scan.Mode.DEMO:
        return None
    qs = Scan.objects.filter(
        team_id=scan.team_id,
        status=ScanStatus.COMPLETED,
        mode=Scan.Mode.RUN,
        targets_key=scan.targets_key,
        created_at__lt=scan.created_at,
    ).exclude(pk=scan.pk)
    if scan.workflow_id:
        qs = qs.filter(workflow_id=scan.workflow_id)
    else:
        qs = qs.filter(workflow__isnull=True, workflow_name=scan.workflow_name, source=scan.source)
    return qs.order_by("-created_at", "-pk").first()


def scan_diff(scan: Scan) -> ScanDiff:
    previous = scan_previous(scan)
    statuses = dict(Finding.objects.filter(scan=scan).values_list("fingerprint", "status"))
    current = set(statuses)
    is_open = {fp for fp, status in statuses.items() if status == Finding.Status.OPEN}
    before = (
        set(Finding.objects.filter(scan=previous).values_list("fingerprint", flat=True))
        if previous
        else set()
    )
    suppressed = (Finding.Status.ACCEPTED, Finding.Status.FALSE_POSITIVE)
    return ScanDiff(
        scan=scan,
        previous=previous,
        new=sorted((current - before) & is_open),
        fixed=sorted(before - current),
        still_open=sorted(current & before & is_open),
        triaged=sorted(fp for fp, status in statuses.items() if status in suppressed),
    )
