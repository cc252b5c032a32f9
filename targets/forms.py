"""Forms of the target pages. They only shape input; targets.services validates and decides."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from targets.bulk import MODES
from targets.models import NOTE_MAX_LENGTH, TargetKind

KIND_CHOICES = [("", "Detect automatically"), *TargetKind.choices]
MODE_CHOICES = [
    ("all_or_nothing", "All or nothing: import only if every line is valid"),
    ("valid_only", "Import the valid lines, skip the others"),
]
assert [m for m, _ in MODE_CHOICES] == list(MODES)


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class TargetForm(forms.Form):
    value = forms.CharField(
        label="Target",
        strip=True,
        widget=forms.TextInput(
            attrs={
                "placeholder": "example.com, *.example.com, 10.0.0.0/24, https://…, nginx:1.25, git@host:org/repo.git",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
    )
    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False)
    expires_at = forms.DateTimeField(
        label="Authorized until (UTC)",
        required=False,
        widget=DateTimeLocalInput(),
        help_text="Optional. Exclusions never expire.",
    )
    note = forms.CharField(
        label="Permission note",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "Who granted it, ticket link"}),
    )
    excluded = forms.BooleanField(label="Exclude (never scan this)", required=False)

    def apply_errors(self, exc: ValidationError) -> None:
        """Put a service's ValidationError next to the fields it names."""
        if hasattr(exc, "error_dict"):
            for name, errors in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, errors)
        else:
            self.add_error(None, exc.messages)


class TargetFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    kind = forms.ChoiceField(choices=[("", "All kinds"), *TargetKind.choices], required=False)


class BulkImportForm(forms.Form):
    text = forms.CharField(
        label="Targets, one per line",
        required=False,
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 10,
                "spellcheck": "false",
                "placeholder": "# comments start with #\nexample.com  # note after a #\n*.staging.example.com\n10.0.0.0/24\n!admin.example.com   (a leading ! excludes)",
            }
        ),
    )
    csv_file = forms.FileField(
        label="…or a CSV file",
        required=False,
        help_text="Columns value,kind,note,expires_at[,excluded]; header line optional.",
    )
    csv_text = forms.CharField(required=False, widget=forms.HiddenInput, strip=False)
    csv_name = forms.CharField(required=False, widget=forms.HiddenInput, max_length=200)
    mode = forms.ChoiceField(
        choices=MODE_CHOICES, initial="all_or_nothing", widget=forms.RadioSelect
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("csv_file")
        if upload is not None:
            raw = upload.read()
            try:
                data["csv_text"] = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("csv_file", "The CSV file must be UTF-8 text.")
                return data
            data["csv_name"] = str(upload.name)[:200]
        if not (data.get("text") or "").strip() and not data.get("csv_text"):
            self.add_error("text", "Paste some targets or choose a CSV file.")
        return data

    def source(self) -> str:
        """The CSV when one was given (uploaded now or at preview), else the pasted text."""
        return self.cleaned_data.get("csv_text") or self.cleaned_data.get("text") or ""

    @property
    def is_csv(self) -> bool:
        return bool(self.cleaned_data.get("csv_text"))
