"""The report-import page's form (beside POST /api/v1/scans/import)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from scans.imports.services import IMPORT_MAX_FILES
from scans.tools import importable_tools


def report_tools() -> list[tuple[str, str, str]]:
    """(tool, label, command that writes its report) for every importable tool, as its module
    declares them (scans.tools.<tool>: NODE.formats)."""
    rows = []
    for tool in importable_tools():
        fmt = tool.formats[0]
        rows.append((tool.type, tool.label, fmt.command))
    return rows


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class ReportFilesField(forms.FileField):
    """One or several report files (the reports of one CI run); cleans to a list."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        uploads = data if isinstance(data, (list, tuple)) else [data]
        return [single(upload, initial) for upload in uploads if upload is not None] or [
            single(None, initial)
        ]


class ReportImportForm(forms.Form):
    """Upload reports a tool already wrote (several: one scan)."""

    tool = forms.ChoiceField(label="Tool", choices=(), required=False)
    file = ReportFilesField(label="Report files", allow_empty_file=True)
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
        choices = [("", "Detect from the file")] + [
            (tool, label) for tool, label, _ in report_tools()
        ]
        self.fields["tool"].choices = choices  # type: ignore[attr-defined]
        self.fields[
            "file"
        ].help_text = (
            f"At most {self.max_size} in all: one report, or several of one CI run (one scan)."
        )

    @property
    def max_size(self) -> str:
        return str(filesizeformat(settings.IMPORT_MAX_BYTES))

    def clean_file(self) -> Any:
        uploads = self.cleaned_data["file"]
        if len(uploads) > IMPORT_MAX_FILES:
            raise forms.ValidationError(f"At most {IMPORT_MAX_FILES} reports at once.")
        size, limit = sum(upload.size or 0 for upload in uploads), settings.IMPORT_MAX_BYTES
        # The size the upload handler counted: refuse before reading the report into memory.
        if size > limit:
            shown = (str(filesizeformat(size)), self.max_size)
            if shown[0] == shown[1]:  # "4.0 KB; the limit is 4.0 KB" says nothing
                shown = (f"{size:,} bytes", f"{limit:,} bytes")
            raise forms.ValidationError(f"Report too large: {shown[0]}; the limit is {shown[1]}.")
        return uploads
