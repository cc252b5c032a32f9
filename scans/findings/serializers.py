"""The findings API's serializers: a finding (structured fields, owner and deadline), its history,
and the request and result bodies of triage, assignment, acceptance decisions and groups."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.serializers import ListedRowsMixin, StrictSerializer
from scans.findings.groups import GROUP_TRIAGE_MAX
from scans.findings.triage import COMMENT_MAX, TRIAGE_MAX, finding_history
from scans.models import Finding, FindingEvent, FindingState


class FindingAssigneeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class FindingSerializer(ListedRowsMixin, serializers.ModelSerializer):
    """A finding with its structured vulnerability fields and, from its triage state, its owner
    and deadline (the views call scans.findings.ownership.findings_decorate first)."""

    scan: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    cvss_score = serializers.FloatField(
        read_only=True, allow_null=True, help_text="v4.0 base score when known, else v3.x"
    )
    cvss_severity = serializers.CharField(
        read_only=True, help_text="CVSS rating of cvss_score (None…Critical); empty without one"
    )
    assignee = serializers.SerializerMethodField()
    due_at = serializers.SerializerMethodField(
        help_text="First seen + the team's SLA days for the severity (null: no deadline)"
    )
    sla_breached = serializers.SerializerMethodField(help_text="Open and past its due date")
    sla_state = serializers.SerializerMethodField(help_text="overdue, due_soon or empty")
    acceptance = serializers.SerializerMethodField(
        help_text="pending (waiting for an owner), approved, or empty"
    )
    accepted_until = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = [
            "id", "scan", "tool", "severity", "title", "description", "remediation", "rule_id",
            "component", "version", "fixed_version", "has_fix", "location", "item", "evidence",
            "references", "tags", "cvss_v3_vector", "cvss_v3_score", "cvss_v4_vector",
            "cvss_v4_score", "cvss_score", "cvss_severity", "cwe_ids", "vuln_ids", "epss_score",
            "epss_percentile", "is_kev", "fingerprint", "is_demo", "status", "first_seen_at", "last_seen_at",
            "assignee", "due_at", "sla_breached", "sla_state", "acceptance", "accepted_until",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(FindingAssigneeSerializer(allow_null=True))
    def get_assignee(self, obj: Finding) -> dict[str, Any] | None:
        user = getattr(obj, "assignee", None)
        return {"id": user.pk, "email": user.email} if user is not None else None

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_due_at(self, obj: Finding) -> Any:
        due = getattr(obj, "due_at", None)
        return due.isoformat() if due else None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_sla_breached(self, obj: Finding) -> bool:
        return getattr(obj, "sla_state", "") == "overdue"

    @extend_schema_field(OpenApiTypes.STR)
    def get_sla_state(self, obj: Finding) -> str:
        return str(getattr(obj, "sla_state", ""))

    @extend_schema_field(OpenApiTypes.STR)
    def get_acceptance(self, obj: Finding) -> str:
        return str(getattr(obj, "acceptance", ""))

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_accepted_until(self, obj: Finding) -> Any:
        until = getattr(obj, "accepted_until", None)
        return until.isoformat() if until else None


class FindingListSerializer(FindingSerializer):
    workflow_name = serializers.CharField(source="scan.workflow_name", read_only=True)

    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "workflow_name", "is_latest", "created_at"]
        read_only_fields = fields


class FindingEventSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(
        read_only=True,
        help_text="triage (a person), reopened (seen again), auto_fixed (not seen again)",
    )
    user = serializers.EmailField(source="user.email", read_only=True, default=None)
    scan = serializers.PrimaryKeyRelatedField(read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = FindingEvent
        fields = ["id", "created_at", "kind", "from_status", "to_status", "comment", "user", "scan"]
        read_only_fields = fields


class FindingDetailSerializer(FindingListSerializer):
    comment = serializers.SerializerMethodField()
    accept_reason = serializers.SerializerMethodField(help_text="Why the risk is accepted")
    history = serializers.SerializerMethodField()

    class Meta(FindingListSerializer.Meta):
        fields = [*FindingListSerializer.Meta.fields, "comment", "accept_reason", "history"]
        read_only_fields = fields

    def _state(self, obj: Finding) -> FindingState | None:
        return FindingState.objects.filter(team_id=obj.team_id, fingerprint=obj.fingerprint).first()

    @extend_schema_field(OpenApiTypes.STR)
    def get_comment(self, obj: Finding) -> str:
        state = self._state(obj)
        return state.comment if state else ""

    @extend_schema_field(OpenApiTypes.STR)
    def get_accept_reason(self, obj: Finding) -> str:
        return str(getattr(obj, "accept_reason", ""))

    @extend_schema_field(FindingEventSerializer(many=True))
    def get_history(self, obj: Finding) -> list[dict[str, Any]]:
        events = finding_history(team=obj.team, fingerprint=obj.fingerprint)
        return list(FindingEventSerializer(events, many=True).data)


class TriageSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Finding.Status.choices)
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=COMMENT_MAX,
        help_text="Why; required for `accepted` (the acceptance's reason)",
    )  # fmt: skip
    accepted_until = serializers.DateTimeField(
        required=False, help_text="Required for `accepted`: when the acceptance ends (≤ 365 days)"
    )

    class Meta:
        # An acceptance needs its reason and its end (that the end is ahead depends on the clock).
        schema_extra = {
            "anyOf": [
                {"properties": {"status": {"not": {"enum": ["accepted"]}}}},
                {
                    "required": ["comment", "accepted_until"],
                    "properties": {"comment": {"pattern": "\\S"}},
                },
            ]
        }


class BulkTriageSerializer(TriageSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=TRIAGE_MAX,
        help_text=f"Finding ids (at most {TRIAGE_MAX}); every occurrence of each finding changes.",
    )  # fmt: skip


class TriageResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    requested = serializers.IntegerField(help_text="Distinct findings (fingerprints) asked for")
    changed = serializers.IntegerField()
    pending = serializers.IntegerField(
        help_text="Acceptances of critical/high findings waiting for an owner's approval"
    )
    not_found = serializers.ListField(child=serializers.IntegerField())


class AssignSerializer(StrictSerializer):
    assignee = serializers.IntegerField(
        min_value=1, allow_null=True, help_text="A team member's user id; null unassigns"
    )


class BulkAssignSerializer(AssignSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=TRIAGE_MAX
    )


class AcceptanceDecisionSerializer(StrictSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=TRIAGE_MAX
    )
    approve = serializers.BooleanField(help_text="true approves, false refuses")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX)


class CountResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField()
    not_found = serializers.ListField(child=serializers.IntegerField())


class GroupsRequestSerializer(StrictSerializer):
    rule_ids = serializers.ListField(
        child=serializers.CharField(max_length=200, allow_blank=True), min_length=1,
        max_length=500, help_text="The groups (rule ids) to change",
    )  # fmt: skip
    where = serializers.DictField(
        required=False,
        help_text="The list's filters (status, severity, scan, …) the groups' findings must "
        f"match; at most {GROUP_TRIAGE_MAX:,} findings change",
    )


class GroupTriageSerializer(GroupsRequestSerializer, TriageSerializer):
    pass


class GroupAssignSerializer(GroupsRequestSerializer, AssignSerializer):
    pass


class FindingGroupSerializer(serializers.Serializer):
    rule_id = serializers.CharField()
    title = serializers.CharField(help_text="One finding's title")
    worst = serializers.CharField(help_text="Worst severity in the group")
    findings = serializers.IntegerField()
    open = serializers.IntegerField()
    packages = serializers.IntegerField(help_text="Distinct components")
    assets = serializers.IntegerField(help_text="Distinct items (images, hosts, URLs)")
    fixable = serializers.IntegerField(help_text="Findings with a fix available")
    has_fix = serializers.BooleanField()
    kev = serializers.IntegerField(help_text="Findings known to be exploited (KEV)")
    overdue = serializers.IntegerField()
    tools = serializers.IntegerField()
    tool = serializers.CharField()
    cvss = serializers.FloatField(allow_null=True, help_text="Highest CVSS score")
    first_seen_at = serializers.DateTimeField(allow_null=True)
    severities = serializers.DictField(child=serializers.IntegerField())


class FindingGroupPageSerializer(serializers.Serializer):
    page = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = FindingGroupSerializer(many=True)
