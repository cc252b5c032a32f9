"""The one scan-start form: the New scan page (choose a workflow) and the builder's Run panel (the
workflow is the one being edited) list the same authorized targets (`targets_authorized`)."""

from __future__ import annotations

from typing import Any

from django import forms

from targets.services import targets_authorized
from workflows.models import Workflow


class ScanStartForm(forms.Form):
    workflow: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=Workflow.objects.none(), empty_label="Choose a workflow…"
    )
    targets: forms.ModelMultipleChoiceField[Any] = forms.ModelMultipleChoiceField(
        queryset=None,  # type: ignore[arg-type]
        widget=forms.CheckboxSelectMultiple,
        help_text="Only authorized, unexpired targets of this team are listed.",
    )
    authorize_targets = forms.BooleanField(
        required=False,
        label="I am authorized to scan these targets",
        help_text="Recorded in the audit log with your name.",
    )

    def __init__(self, *args: Any, team: Any, workflow: Workflow | None = None, **kwargs: Any):
        """`workflow` given: the form runs that workflow (no workflow field)."""
        super().__init__(*args, **kwargs)
        self.fixed_workflow = workflow
        # Set when the scan rate limit refused the start: the seconds until the next one.
        self.retry_after_s: int | None = None
        if workflow is not None:
            del self.fields["workflow"]
        else:
            self.fields["workflow"].queryset = Workflow.objects.filter(team=team).order_by("name")  # type: ignore[attr-defined]
        self.fields["targets"].queryset = targets_authorized(team)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        # Checked here too, so the box's error shows with the other fields' errors at once.
        data = super().clean() or {}
        if not data.get("authorize_targets"):
            self.add_error(
                "authorize_targets", "Confirm that you are authorized to scan these targets."
            )
        return data

    def chosen_workflow(self) -> Workflow | None:
        chosen: Workflow | None = self.fixed_workflow or self.cleaned_data.get("workflow")
        return chosen
