"""What the database still guarantees about stored findings after their team and step keys, and
the user keys of their triage states, stopped being foreign-key constraints (each key of a
20,000-finding report was a check at commit): the scan key is checked, one fingerprint per scan
is unique, and deleting a team, a scan or a user the way the product does (Django's collector:
the admin, the API) leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Team, User
from scans.engine.runtime import FindingData
from scans.findings.storage import findings_store
from scans.models import Finding, FindingState, Scan, ScanStep

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_finding_of_a_scan_that_does_not_exist_is_refused(
    make_scan: Callable[..., Scan], team: Team
) -> None:
    scan = make_scan(3)
    missing = scan.pk + 1000
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.create(
            team=team, scan_id=missing, tool="t", title="orphan", fingerprint="f" * 64
        )
    assert not Finding.objects.filter(title="orphan").exists()
    assert Finding.objects.filter(scan=scan).count() == 3


def test_one_fingerprint_is_stored_once_per_scan(
    make_scan: Callable[..., Scan], team: Team
) -> None:
    scan = make_scan(3)
    row = Finding.objects.filter(scan=scan).first()
    assert row is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.create(
            team=team, scan=scan, tool=row.tool, title="again", fingerprint=row.fingerprint
        )
    # Storing the same finding again through the recording path keeps the one row.
    findings_store(scan=scan, step=None, findings=[row.as_data()])
    assert Finding.objects.filter(scan=scan, fingerprint=row.fingerprint).count() == 1


def test_deleting_a_team_removes_its_findings_and_states_and_no_other_teams(
    make_scan: Callable[..., Scan], team: Team
) -> None:
    other_team = Team.objects.create(name="Other")
    make_scan(25)
    make_scan(25)
    kept = make_scan(10, team=other_team)
    assert FindingState.objects.filter(team=team).count() > 0

    team.delete()

    assert not Finding.objects.exclude(team_id=other_team.pk).exists()
    assert not FindingState.objects.exclude(team_id=other_team.pk).exists()
    assert Finding.objects.filter(scan=kept).count() == 10
    assert FindingState.objects.filter(team=other_team).count() == 10


def test_deleting_a_user_clears_them_from_triage_states_and_keeps_the_states(
    make_scan: Callable[..., Scan], make_user: Callable[..., User], team: Team
) -> None:
    # The users a state names are not foreign-key constraints (a new report writes 20,000
    # states): deleting a user the way the product does (Django's collector) still clears them.
    make_scan(3)
    leaver, stayer = make_user("leaver@example.test"), make_user("stayer@example.test")
    states = list(FindingState.objects.filter(team=team).order_by("pk"))
    for field in ("updated_by", "assignee", "accept_requested_by", "accept_approved_by"):
        FindingState.objects.filter(pk=states[0].pk).update(**{field: leaver})
        FindingState.objects.filter(pk=states[1].pk).update(**{field: stayer})

    leaver.delete()

    first, second = (FindingState.objects.get(pk=s.pk) for s in states[:2])
    keys = ("updated_by_id", "assignee_id", "accept_requested_by_id", "accept_approved_by_id")
    assert [getattr(first, key) for key in keys] == [None] * 4
    assert [getattr(second, key) for key in keys] == [stayer.pk] * 4
    assert FindingState.objects.filter(team=team).count() == len(states)


def test_deleting_a_scan_removes_its_findings_and_steps(
    make_scan: Callable[..., Scan],
) -> None:
    scan = make_scan(
        [FindingData(tool="t", severity="high", title=f"f{i}", rule_id=f"R{i}") for i in range(5)]
    )
    step_ids = list(scan.steps.values_list("pk", flat=True))
    assert Finding.objects.filter(scan=scan).count() == 5

    scan.delete()

    assert not Finding.objects.filter(scan_id=scan.pk).exists()
    assert not Finding.objects.filter(step_id__in=step_ids).exists()


def test_a_finding_whose_step_was_deleted_alone_still_shows(
    make_scan: Callable[..., Scan], user: User, owner_api: APIClient, client: Client
) -> None:
    # The admin can delete one step of a scan; its findings keep the (now dangling) step id,
    # which nothing reads: the pages and the API show them as before.
    scan = make_scan(2)
    finding = Finding.objects.filter(scan=scan).first()
    assert finding is not None and finding.step_id is not None
    ScanStep.objects.filter(pk=finding.step_id).delete()
    assert Finding.objects.filter(scan=scan).count() == 2

    client.force_login(user)
    page = client.get(reverse("findings:detail", args=[finding.pk]))
    assert page.status_code == 200
    assert finding.title in page.content.decode()
    answer = owner_api.get(f"/api/v1/findings/{finding.pk}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["fingerprint"] == finding.fingerprint


def test_rows_that_meet_a_concurrent_steps_row_are_stored_around_it_with_their_json_and_times(
    make_scan: Callable[..., Scan], team: Team
) -> None:
    # Another step of the scan stored one of these fingerprints in the meantime: on PostgreSQL
    # the COPY fails as a whole and the rows go again through the ORM, skipping that one.
    from django.utils import timezone

    from config.bulkwrite import is_postgres, json_text, timestamp_text
    from scans.findings.storage import _finding_row, _findings_insert, _same

    scan = make_scan(1)
    taken = Finding.objects.get(scan=scan)
    data = [
        FindingData(
            tool="t", severity="low", title=f"n{i}", rule_id=f"N{i}",
            evidence={"port": i, "tags": ["a"]}, references=[f"https://example.test/{i}"],
        )
        for i in range(3)
    ]  # fmt: skip
    now = timezone.now()
    # As findings_store builds them: JSON cells and times as COPY's text on PostgreSQL.
    as_json = json_text if is_postgres() else _same
    stamp = timestamp_text(now) if is_postgres() else now
    ids = (team.pk, scan.pk, None)
    rows = [_finding_row(ids, d.fingerprint, d, "open", stamp, stamp, as_json) for d in data]
    rows.append(
        _finding_row(ids, taken.fingerprint, taken.as_data(), "open", stamp, stamp, as_json)
    )

    _findings_insert(rows)

    assert Finding.objects.filter(scan=scan).count() == 4
    assert Finding.objects.get(scan=scan, fingerprint=taken.fingerprint).pk == taken.pk
    stored = Finding.objects.get(scan=scan, rule_id="N2")
    assert stored.evidence == {"port": 2, "tags": ["a"]}
    assert stored.references == ["https://example.test/2"]
    assert stored.first_seen_at == now and stored.last_seen_at == now and stored.created_at == now
