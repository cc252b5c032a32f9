from __future__ import annotations

from typing import Any

from django import forms


class ScanStartForm(forms.Form):
    workflow: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, empty_label="Choose a workflow…"
    )  # type: ignore[arg-type]
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

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from django.db.models import Q
        from django.utils import timezone

        from targets.models import Target
        from workflows.models import Workflow

        self.fields["workflow"].queryset = Workflow.objects.filter(team=team).order_by("name")  # type: ignore[attr-defined]
        self.fields["targets"].queryset = (  # type: ignore[attr-defined]
            Target.objects.filter(team=team, excluded=False)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .order_by("kind", "value")
        )
