"""Forms of the workflow pages. The node config form is generated from the node type's schema;
it only converts what the browser sends (text) into typed values: the limits are checked by the
graph validation the API uses, and its errors are put back next to the fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.module_loading import import_string

from workflows.graph import MAX_LABEL_LENGTH
from workflows.nodes import FieldSpec, NodeType
from workflows.services import IMPORT_MAX_BYTES, MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH
from workflows.templates import TEMPLATES

BLANK_ROWS = 2  # empty rows offered under a list field's entries (the rules node)


class WorkflowCreateForm(forms.Form):
    name = forms.CharField(
        max_length=MAX_NAME_LENGTH, required=False, help_text="Defaults to the template's name."
    )
    template = forms.ChoiceField(
        required=False,
        label="Start from",
        choices=[("", "Blank canvas"), *((t.key, t.name) for t in TEMPLATES.values())],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("template") and not data.get("name"):
            self.add_error("name", "Give the blank workflow a name.")
        return data


class WorkflowImportForm(forms.Form):
    file = forms.FileField(help_text="A workflow exported as .json or .yaml (at most 256 KiB).")

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if (upload.size or 0) > IMPORT_MAX_BYTES:
            raise forms.ValidationError(f"Too large: at most {IMPORT_MAX_BYTES // 1024} KiB.")
        if not (upload.name or "").lower().endswith((".json", ".yaml", ".yml")):
            raise forms.ValidationError("Choose a .json, .yaml or .yml file.")
        return upload

    @property
    def format(self) -> str:
        return "json" if self.cleaned_data["file"].name.lower().endswith(".json") else "yaml"


class WorkflowSettingsForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    description = forms.CharField(
        max_length=MAX_DESCRIPTION_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


def _form_field(spec: FieldSpec) -> forms.Field:
    attrs: dict[str, Any] = {}
    common: dict[str, Any] = {"label": spec.title, "help_text": spec.help, "required": False}
    if spec.type == "int":
        if spec.min is not None:
            attrs["min"] = spec.min
        if spec.max is not None:
            attrs["max"] = spec.max
        return forms.IntegerField(widget=forms.NumberInput(attrs=attrs), **common)
    if spec.type == "bool":
        return forms.BooleanField(**common)
    if spec.type == "choice":
        return forms.ChoiceField(choices=[(c, c) for c in spec.choices], **common)
    attrs["maxlength"] = spec.max_length
    return forms.CharField(strip=False, widget=forms.TextInput(attrs=attrs), **common)


def _options_field(spec: FieldSpec, team_id: int, node_type: str, *, current: Any) -> forms.Field:
    """A select of the team's objects for an id field (FieldSpec.options_from). An id the team
    no longer has (deleted, or of another kind) stays visible as such, so the problem shows, and
    is refused on save (NodeConfigForm.clean)."""
    find = import_string(spec.options_from)
    options = [(int(value), str(label)) for value, label in find(team_id, node_type)]
    choices: list[tuple[Any, str]] = [("", "—"), *options]
    stale = isinstance(current, int) and current not in {value for value, _ in options}
    if stale:
        choices.append((current, f"#{current}: not available to this node any more"))
    help_text = spec.help if options else f"{spec.help} There is none yet: add one first."
    field = forms.TypedChoiceField(
        choices=choices,
        coerce=int,
        empty_value=None,
        label=spec.title,
        help_text=help_text,
        required=False,
    )
    field.stale_value = current if stale else None  # type: ignore[attr-defined]
    return field


class NodeConfigForm(forms.Form):
    """The label, one field per scalar config field, and rows of sub-fields for list fields
    (named `<field>-<row>-<sub>`)."""

    label = forms.CharField(
        max_length=MAX_LABEL_LENGTH,
        required=False,
        strip=True,
        help_text="Shown on the canvas instead of the node type's name.",
    )
    revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        node_type: NodeType,
        node: dict[str, Any],
        team_id: int | None = None,
        **kwargs: Any,
    ) -> None:
        config = node.get("config") or {}
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("label", node.get("label", ""))
        super().__init__(*args, **kwargs)
        self.node_type = node_type
        self.list_fields: list[tuple[FieldSpec, list[list[tuple[FieldSpec, str]]]]] = []
        for spec in node_type.config_fields:
            if spec.type == "list":
                self._add_list_field(spec, config.get(spec.name) or [])
                continue
            if spec.options_from and team_id is not None:
                self.fields[spec.name] = _options_field(
                    spec, team_id, node_type.type, current=config.get(spec.name)
                )
            else:
                self.fields[spec.name] = _form_field(spec)
            self.initial.setdefault(spec.name, config.get(spec.name, spec.default))
        self.fields["label"].widget.attrs["placeholder"] = node_type.label

    def _add_list_field(self, spec: FieldSpec, records: list[dict[str, Any]]) -> None:
        submitted_rows = 0
        if self.is_bound:
            prefix = f"{spec.name}-"
            rows = {
                int(k.split("-")[1])
                for k in self.data
                if k.startswith(prefix) and k.split("-")[1].isdigit()
            }
            submitted_rows = max(rows) + 1 if rows else 0
        count = min(max(len(records) + BLANK_ROWS, submitted_rows), spec.max_items + BLANK_ROWS)
        rows_of_fields: list[list[tuple[FieldSpec, str]]] = []
        for index in range(count):
            record = records[index] if index < len(records) else {}
            row: list[tuple[FieldSpec, str]] = []
            for sub in spec.fields:
                name = f"{spec.name}-{index}-{sub.name}"
                field = _form_field(sub)
                if sub.type == "choice":
                    field.choices = [("", "—"), *field.choices]  # type: ignore[attr-defined]
                self.fields[name] = field
                self.initial.setdefault(
                    name, record.get(sub.name, "" if index >= len(records) else sub.default)
                )
                row.append((sub, name))
            rows_of_fields.append(row)
        self.list_fields.append((spec, rows_of_fields))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, field in self.fields.items():
            stale = getattr(field, "stale_value", None)
            if stale is not None and data.get(name) == stale:
                self.add_error(name, f"#{stale} is not one of this team's to choose: pick another.")
        return data

    def scalar_fields(self) -> list[forms.BoundField]:
        """The label and the scalar config fields, in schema order (not list rows or revision)."""
        in_rows = {name for _, rows in self.list_fields for row in rows for _, name in row}
        return [self[name] for name in self.fields if name not in in_rows and name != "revision"]

    def rows(self) -> list[dict[str, Any]]:
        """List fields for the template: [{spec, rows: [[bound field, …], …]}]."""
        return [
            {"spec": spec, "rows": [[self[name] for _, name in row] for row in rows]}
            for spec, rows in self.list_fields
        ]

    def config(self) -> dict[str, Any]:
        """The config the form describes (call after is_valid); empty rows are left out."""
        data = self.cleaned_data
        config: dict[str, Any] = {}
        for spec in self.node_type.config_fields:
            if spec.type == "list":
                config[spec.name] = self._list_value(spec)
            elif data.get(spec.name) is None or (
                spec.type == "choice" and data.get(spec.name) == ""
            ):
                if spec.default is not None:
                    config[spec.name] = spec.default
            else:
                config[spec.name] = data[spec.name]
        return config

    def _list_value(self, spec: FieldSpec) -> list[dict[str, Any]]:
        records = []
        for _, rows in (item for item in self.list_fields if item[0].name == spec.name):
            for row in rows:
                record = {sub.name: self.cleaned_data.get(name) for sub, name in row}
                if not any(v not in (None, "", False) for v in record.values()):
                    continue
                records.append({k: v for k, v in record.items() if v is not None})
        return records

    def add_graph_error(self, field: str, message: str) -> None:
        """Put a validation error next to its field: `ports`, or `rules[1].regex`."""
        if field in self.fields:
            self.add_error(field, message)
            return
        if "[" in field and "]." in field:
            name, rest = field.split("[", 1)
            index, sub = rest.split("].", 1)
            bound = f"{name}-{index}-{sub}"
            if bound in self.fields:
                self.add_error(bound, message)
                return
        self.add_error(None, f"{field}: {message}")
