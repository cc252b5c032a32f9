from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.utils import timezone

from accounts.models import ROLE_RANK, SLA_MAX_DAYS, Role, normalize_email


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        return normalize_email(self.cleaned_data["username"])


class SignupForm(forms.Form):
    """Only what the mail needs. The password is set from the mailed link (it proves the
    mailbox), and nothing here looks the address up: the answer is the same for any address."""

    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    display_name = forms.CharField(max_length=120, required=False, label="Name (optional)")

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class PasswordSetForm(SetPasswordForm):  # type: ignore[type-arg]
    """The password of the sign-up link (and of a forgotten one), checked by the validators."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "Password"
        self.fields["new_password1"].help_text = PASSWORD_HELP
        self.fields["new_password2"].label = "Password again"


PASSWORD_HELP = "At least 10 characters, not a common or all-numeric password."  # noqa: S105


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=120)


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, label="E-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANALYST)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “GitLab CI”.")
    role = forms.ChoiceField(choices=Role.choices)
    expires_in_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        label="Expires in (days)",
        help_text="Leave empty for a key that does not expire.",
    )

    def __init__(self, *args: Any, max_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = [
            (value, label)
            for value, label in Role.choices
            if ROLE_RANK[Role(value)] <= ROLE_RANK[Role(max_role)]
        ]
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)
        role_field.choices = allowed
        role_field.initial = Role.ANALYST if max_role != Role.VIEWER else Role.VIEWER

    def expires_at(self) -> Any:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None


class SlaForm(forms.Form):
    """Days to fix an open finding, from when it was first seen, by severity."""

    critical = forms.IntegerField(min_value=1, max_value=SLA_MAX_DAYS, label="Critical (days)")
    high = forms.IntegerField(min_value=1, max_value=SLA_MAX_DAYS, label="High (days)")
    medium = forms.IntegerField(min_value=1, max_value=SLA_MAX_DAYS, label="Medium (days)")
    low = forms.IntegerField(min_value=1, max_value=SLA_MAX_DAYS, label="Low (days)")
