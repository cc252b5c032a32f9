"""The findings pages' triage form: a status (with a reason and an end date when it accepts a
risk) or an assignee, for checked findings, whole groups, or one finding."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django import forms

from accounts.models import Team
from scans.findings.acceptance import COMMENT_MAX
from scans.findings.ownership import team_members
from scans.models import Finding


class TriageForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("status", "Set status"), ("assign", "Assign")], required=False
    )
    status = forms.ChoiceField(choices=Finding.Status.choices, required=False)
    comment = forms.CharField(required=False, max_length=COMMENT_MAX)
    accepted_until = forms.DateField(
        required=False, help_text="Accepted risks: the last day the acceptance holds"
    )
    assignee = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = team_members(team)
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ChoiceField)
        assignee.choices = [("", "Nobody (unassign)")] + [(str(m.pk), m.email) for m in members]
        self.members = {str(m.pk): m for m in members}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["action"] = data.get("action") or "status"
        if data["action"] == "status" and not data.get("status"):
            self.add_error("status", "Choose a status.")
        return data

    @property
    def until(self) -> datetime | None:
        """The end of the chosen day (UTC): an acceptance holds through its last day."""
        day = self.cleaned_data.get("accepted_until")
        if day is None:
            return None
        return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)

    @property
    def assignee_user(self) -> Any:
        return self.members.get(self.cleaned_data.get("assignee") or "")
