"""Demo findings: the synthetic findings of a demo scan (scans.engine.demo) are stored as Finding
rows of that scan, so its findings page and API list them and the logic nodes of the demo
(condition, rules) work on them as they would on real ones. They are kept apart from everything
the team's real findings feed:

- `is_demo=True` and never `is_latest`: the cross-scan findings list, the dashboard, the SLA
  figures, the inventory's open counts and the alerts about findings read only latest rows;
- their fingerprints live in a namespace of their own (`demo_fingerprint`): a demo finding never
  shares a fingerprint with a real one, so it has no triage state (FindingState), is not an
  occurrence of a real finding, and cannot reopen, demote or close one;
- scan diffs compare real scans only (scans.findings.diff.scan_previous).
"""

from __future__ import annotations

import hashlib

from django.utils import timezone

from scans.engine.runtime import SEVERITIES, FindingData
from scans.models import Finding, Scan, ScanStep

DEMO_TAG = "demo"


def demo_fingerprint(fingerprint: str) -> str:
    """The fingerprint a demo finding is stored under: derived from the real scheme's, so a logic
    node handing a demo finding on finds its row again, but never equal to a real one."""
    return hashlib.sha256(f"demo\x1f{fingerprint}".encode()).hexdigest()


def demo_findings_store(
    *, scan: Scan, step: ScanStep | None, findings: list[FindingData]
) -> list[str]:
    """Store a demo scan's findings (the demo counterpart of scans.findings.storage.findings_store):
    new ones inserted open, marked demo, never latest; ones already in the scan get the severity
    and tags a logic node gave them. No triage state, asset or other scan is touched. Returns the
    stored fingerprints."""
    by_fp: dict[str, FindingData] = {}
    for finding in findings:
        if finding.severity not in SEVERITIES:
            finding.severity = "info"
        by_fp.setdefault(demo_fingerprint(finding.fingerprint), finding)
    existing = Finding.objects.filter(team_id=scan.team_id, scan=scan, fingerprint__in=list(by_fp))
    changed = []
    known = set()
    for row in existing:
        known.add(row.fingerprint)
        data = by_fp[row.fingerprint]
        if (row.severity, row.tags) != (data.severity, data.tags):
            row.severity, row.tags = data.severity, data.tags
            changed.append(row)
    Finding.objects.bulk_update(changed, ["severity", "tags"])
    now = timezone.now()
    Finding.objects.bulk_create(
        [
            Finding(
                team_id=scan.team_id, scan=scan, step=step, tool=data.tool[:40],
                severity=data.severity, title=data.title[:500], description=data.description,
                rule_id=data.rule_id[:200], location=data.location[:1000], item=data.item[:1000],
                evidence=data.evidence, tags=data.tags, fingerprint=fp, first_seen_at=now,
                last_seen_at=now, created_at=now, is_latest=False, is_demo=True,
            )
            for fp, data in by_fp.items()
            if fp not in known
        ],
        ignore_conflicts=True,  # the same step delivered twice stores its findings once
    )  # fmt: skip
    return list(by_fp)
