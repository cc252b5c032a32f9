from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat


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


# What each importable tool is called and the command that writes a report this page reads.
# Decoration only: the list of tools is the adapter registry (scans.imports.services.IMPORTABLE_TOOLS);
# a tool added there shows up here with its bare name until it gets a line.
REPORT_HINTS: dict[str, tuple[str, str]] = {
    "trivy": ("Trivy", "trivy image --format json --output trivy.json IMAGE"),
    "grype": ("Grype", "grype IMAGE --output json --file grype.json"),
    "gitleaks": ("Gitleaks", "gitleaks detect --report-format json --report-path gitleaks.json"),
    "nuclei": ("Nuclei", "nuclei -jsonl -o nuclei.jsonl -u URL"),
    "nmap": ("Nmap", "nmap -sV -oX nmap.xml HOST"),
}


def report_tools() -> list[tuple[str, str, str]]:
    """(tool, label, command that writes its report) for every importable tool."""
    from scans.imports.services import IMPORTABLE_TOOLS

    order = list(REPORT_HINTS)  # the common ones first; the registry's order is nmap first
    tools = sorted(IMPORTABLE_TOOLS, key=lambda t: order.index(t) if t in order else len(order))
    return [(tool, *REPORT_HINTS.get(tool, (tool, ""))) for tool in tools]


class ReportImportForm(forms.Form):
    """Upload a report a tool already wrote (the page beside POST /api/v1/scans/import)."""

    tool = forms.ChoiceField(label="Tool", choices=())
    file = forms.FileField(label="Report file")
    target = forms.CharField(
        label="Target",
        required=False,
        max_length=500,
        help_text="Optional: what was scanned (an image, a repository, a host).",
    )
    workflow = forms.CharField(
        label="Label",
        required=False,
        max_length=200,
        help_text="Optional. Imports with the same label, tool and target are compared with "
        'each other (new, still open, fixed); the default label is "import: <tool>".',
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Choose a tool…")] + [(tool, label) for tool, label, _ in report_tools()]
        self.fields["tool"].choices = choices  # type: ignore[attr-defined]
        self.fields["file"].help_text = f"At most {self.max_size}."

    @property
    def max_size(self) -> str:
        return str(filesizeformat(settings.IMPORT_MAX_BYTES))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        size, limit = upload.size or 0, settings.IMPORT_MAX_BYTES
        # The size the upload handler counted: refuse before reading the report into memory.
        if size > limit:
            shown = (str(filesizeformat(size)), self.max_size)
            if shown[0] == shown[1]:  # "4.0 KB; the limit is 4.0 KB" says nothing
                shown = (f"{size:,} bytes", f"{limit:,} bytes")
            raise forms.ValidationError(f"Report too large: {shown[0]}; the limit is {shown[1]}.")
        return upload
