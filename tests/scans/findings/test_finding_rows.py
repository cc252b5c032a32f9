"""The findings API writes its rows with a plan made once per list (config.serializers.
ListedRowsMixin): every row must read exactly as DRF's own field-by-field walk writes it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers

from scans.findings.ownership import findings_decorate
from scans.findings.serializers import FindingDetailSerializer, FindingListSerializer
from scans.models import Finding, FindingState, Scan

pytestmark = pytest.mark.django_db


def drf_rows(serializer_class: type[serializers.ModelSerializer], rows: list[Finding]) -> Any:
    child = serializer_class()
    return [serializers.ModelSerializer.to_representation(child, row) for row in rows]


def test_a_listed_finding_reads_as_drf_writes_it(
    make_scan: Callable[..., Scan], team: Any, user: Any
) -> None:
    make_scan(60)
    # Nulls, empties, an owner, an acceptance and odd scores: every branch of the plan.
    first = Finding.objects.filter(team=team).order_by("pk").first()
    assert first is not None
    Finding.objects.filter(pk=first.pk).update(
        cvss_v3_score=None, epss_score=0.0, epss_percentile=None, evidence={}, tags=["a", "b"],
        component="", is_kev=True,
    )  # fmt: skip
    FindingState.objects.filter(team=team, fingerprint=first.fingerprint).update(
        assignee=user, acceptance="pending", accepted_until=timezone.now() + timedelta(days=3),
        accept_reason="until the patch window",
    )  # fmt: skip
    found = Finding.objects.filter(team=team).select_related("scan").order_by("pk")
    rows = findings_decorate(team, list(found))

    listed = FindingListSerializer(rows, many=True).data
    assert listed == drf_rows(FindingListSerializer, rows)
    # The plan is the class's: the next list does not build its serializer's fields again.
    again: Any = FindingListSerializer(rows, many=True)  # a ListSerializer (many=True)
    child = again.child  # type: ignore[attr-defined]  # many=True gives a ListSerializer
    assert again.data == listed and "fields" not in child.__dict__
    assert listed[0]["assignee"] == {"id": user.pk, "email": user.email}
    assert listed[0]["cvss_v3_score"] is None and listed[0]["epss_score"] == 0.0
    assert isinstance(listed[0]["first_seen_at"], str) and listed[0]["is_kev"] is True
    assert set(listed[0]) == set(FindingListSerializer.Meta.fields)
    detail = FindingDetailSerializer(rows[0]).data
    assert detail == drf_rows(FindingDetailSerializer, rows[:1])[0]
