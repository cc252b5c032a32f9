"""A scan's rows become their fingerprints' latest occurrence in the team; only the team's older
rows of those fingerprints give that up (scans.findings.storage, config.bulkwrite.findings_demote on
PostgreSQL, the ORM elsewhere)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from accounts.models import Team, User
from scans.findings.storage import findings_store
from scans.models import Finding, Scan
from tests.scans.findings.factories import realistic_findings

pytestmark = pytest.mark.django_db


def _latest(team: Team) -> dict[str, int]:
    rows = Finding.objects.filter(team=team, is_latest=True).values_list("fingerprint", "scan_id")
    per_fp = Counter(fp for fp, _ in rows)
    assert set(per_fp.values()) <= {1}, "a fingerprint has more than one latest row"
    return dict(rows)


def test_a_scan_takes_over_only_its_fingerprints_and_only_in_its_team(
    make_scan: Callable[..., Scan], make_user: Callable[..., User], team: Team
) -> None:
    data = realistic_findings(8)
    fps = [f.fingerprint for f in data]
    other_team = Team.objects.get(personal_owner=make_user("other@example.test"))
    theirs = make_scan(data[:6], team=other_team)
    first = make_scan(data[:6])
    second = make_scan(data[2:8])

    assert _latest(team) == {
        **{fp: first.pk for fp in fps[:2]},
        **{fp: second.pk for fp in fps[2:]},
    }
    # The other team's rows of the same fingerprints are theirs: still latest.
    assert _latest(other_team) == {fp: theirs.pk for fp in fps[:6]}
    # The demoted rows are kept (history, the scan's own list), only no longer latest.
    assert Finding.objects.filter(scan=first).count() == 6

    # A later step of the same scan storing some of its fingerprints again demotes nothing.
    findings_store(scan=second, step=None, findings=data[2:4])
    assert _latest(team)[fps[2]] == second.pk

    third = make_scan(data[:1])
    assert _latest(team) == {
        fps[0]: third.pk,
        fps[1]: first.pk,
        **{fp: second.pk for fp in fps[2:]},
    }
    assert _latest(other_team) == {fp: theirs.pk for fp in fps[:6]}


def test_after_rows_are_deleted_the_newest_remaining_row_is_the_only_latest(
    make_scan: Callable[..., Scan], team: Team
) -> None:
    from scans.findings.triage import findings_latest_refresh

    data = realistic_findings(4)
    fps = [f.fingerprint for f in data]
    first, second, third = make_scan(data), make_scan(data), make_scan(data[:2])
    # An older row wrongly left latest next to the newest one (say an interrupted delete).
    Finding.objects.filter(scan=first, fingerprint=fps[3]).update(is_latest=True)

    third.delete()
    findings_latest_refresh(team_id=team.pk, fingerprints=fps)

    assert _latest(team) == {fp: second.pk for fp in fps}
    assert not Finding.objects.filter(scan=first, is_latest=True).exists()
