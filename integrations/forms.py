"""Forms of the integration, rule, schedule and notify pages. They only read what the browser
sends; the services validate (the same rules as the API) and their errors go back next to the
fields (`errors_to_form`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from integrations.models import Integration, IntegrationKind, RuleEvent
from integrations.schedules.services import MAX_EVERY_HOURS
from integrations.services import MAX_RECIPIENTS, NAME_MAX, SECRET_MAX, SECRET_MIN, integrations_for
from scans.engine.runtime import SEVERITIES
from targets.models import Target
from workflows.models import Workflow

SEVERITY_CHOICES = [(s, s.capitalize()) for s in SEVERITIES]


def _set_queryset(form: forms.Form, name: str, queryset: QuerySet[Any]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)  # ModelMultipleChoiceField is one too
    field.queryset = queryset


def errors_to_form(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the fields it names (else on top of the form)."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    aliases = {"workflow_id": "workflow", "target_ids": "targets", "integration_id": "integration"}
    for field, messages in errors.items():
        name = aliases.get(str(field), field)
        form.add_error(name if name in form.fields else None, messages)


_T = TypeVar("_T")


def form_saved(form: forms.Form, save: Callable[[], _T]) -> _T | None:
    """What `save` (a service call with the form's data) returned, or None when the service
    refused it: its ValidationError is then on the form, next to the fields it names."""
    try:
        return save()
    except ValidationError as exc:
        errors_to_form(form, exc)
        return None


class IntegrationForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX)
    webhook_url = forms.CharField(
        label="Webhook URL",
        max_length=2000,
        required=False,
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    signing_secret = forms.CharField(
        label="Signing secret",
        max_length=SECRET_MAX,
        # Checked here so a short secret is refused in words with the other errors (the field
        # is never shown again, so a silent refusal looked like "cleared").
        min_length=SECRET_MIN,
        error_messages={
            "min_length": (
                f"The signing secret needs at least {SECRET_MIN} characters (this one has "
                "%(show_value)d): a short key can be guessed, and the receiver trusts every "
                "message signed with it. It was not saved; type a longer one."
            )
        },
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=f"{SECRET_MIN} characters or more. The receiver checks X-Outpost-Signature with it.",
    )
    recipients = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Up to {MAX_RECIPIENTS} addresses, separated by commas or new lines.",
    )
    is_enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    def __init__(self, *args: Any, kind: str, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == IntegrationKind.EMAIL:
            del self.fields["webhook_url"], self.fields["signing_secret"]
        else:
            del self.fields["recipients"]
            if kind != IntegrationKind.WEBHOOK:
                del self.fields["signing_secret"]
            hints = {
                IntegrationKind.SLACK: "Slack: Apps → Incoming Webhooks → the channel's URL.",
                IntegrationKind.DISCORD: "Discord: channel settings → Integrations → Webhooks → Copy URL.",
                IntegrationKind.WEBHOOK: "Your endpoint; it receives JSON signed with the secret below.",
            }
            help_text = hints.get(IntegrationKind(kind), "")
            if editing:
                help_text = "Stored encrypted and not shown. Leave empty to keep the current one."
            self.fields["webhook_url"].help_text = help_text
            if editing and "signing_secret" in self.fields:
                self.fields["signing_secret"].help_text = "Leave empty to keep the current secret."


class RuleForm(forms.Form):
    event = forms.ChoiceField(choices=RuleEvent.choices, label="When")
    min_severity = forms.ChoiceField(
        choices=SEVERITY_CHOICES, initial="high", label="New findings at or above"
    )
    days = forms.IntegerField(
        min_value=1, max_value=365, initial=30, required=False,
        label="Certificates expiring within (days)",
    )  # fmt: skip
    technology = forms.CharField(
        max_length=200, required=False, label="Technology appears",
        help_text="Names, comma-separated (for “Technology appears”)",
    )  # fmt: skip
    integration: forms.ModelChoiceField[Integration] = forms.ModelChoiceField(
        queryset=Integration.objects.none(), empty_label=None, label="Send to"
    )

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        _set_queryset(self, "integration", integrations_for(team))


class NotifyForm(forms.Form):
    integration: forms.ModelChoiceField[Integration] = forms.ModelChoiceField(
        queryset=Integration.objects.none(), empty_label=None, label="Send to"
    )
    min_severity = forms.ChoiceField(
        choices=SEVERITY_CHOICES, initial="info", label="Minimum severity"
    )
    only_new = forms.BooleanField(
        required=False, label="Only findings the previous scan did not have"
    )

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        _set_queryset(self, "integration", integrations_for(team).filter(is_enabled=True))


class ScheduleForm(forms.Form):
    CADENCES = [("every", "Every N hours"), ("cron", "Cron expression (UTC)")]

    name = forms.CharField(max_length=120)
    workflow: forms.ModelChoiceField[Workflow] = forms.ModelChoiceField(
        queryset=Workflow.objects.none(), empty_label="Choose a workflow…"
    )
    targets: forms.ModelMultipleChoiceField[Target] = forms.ModelMultipleChoiceField(
        queryset=Target.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Authorized, unexpired targets. A run whose targets left scope fails instead of scanning.",
    )
    cadence = forms.ChoiceField(choices=CADENCES, initial="every", widget=forms.RadioSelect)
    every_hours = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_EVERY_HOURS, initial=24, label="Every (hours)"
    )
    cron = forms.CharField(
        required=False, max_length=100, label="Cron",
        help_text="minute hour day month weekday, e.g. 0 3 * * 1 = Mondays 03:00 UTC",
    )  # fmt: skip
    authorize_targets = forms.BooleanField(
        required=False,
        label="I am authorized to scan these targets on this schedule",
        help_text="Recorded with your name; every run scans as you.",
    )

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_queryset(self, "workflow", Workflow.objects.filter(team=team).order_by("name"))
        _set_queryset(
            self,
            "targets",
            Target.objects.filter(team=team, excluded=False)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .order_by("kind", "value"),
        )

    def cadence_values(self) -> tuple[str, int | None]:
        data = self.cleaned_data
        if data.get("cadence") == "cron":
            return data.get("cron") or "", None
        return "", data.get("every_hours")
