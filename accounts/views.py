"""Account pages: sign-up, login, logout, password change, teams and members, API keys."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts import invitations, registration, services
from accounts.audit import audit_record
from accounts.forms import (
    ApiKeyCreateForm,
    InviteForm,
    LoginForm,
    PasswordSetForm,
    SignupForm,
    SlaForm,
    TeamCreateForm,
)
from accounts.http import TeamHttpRequest
from accounts.models import ApiKey, Membership, Role
from accounts.permissions import team_role_required
from accounts.ratelimits import RateLimited, rate_limit_wait


def _too_many(request: HttpRequest, wait: int) -> HttpResponse:
    response = render(request, "accounts/rate_limited.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Ask for an address; a worker mails it the link that sets the password (see
    accounts/registration.py). Every valid request gets the same redirect, taken address or not."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        wait = rate_limit_wait(request, "register", account=request.POST.get("email", ""))
        if wait:
            return _too_many(request, wait)
        if form.is_valid():
            registration.account_register_request(
                email=form.cleaned_data["email"],
                via="browser",
                display_name=form.cleaned_data["display_name"],
                next_path=_safe_next(request),
            )
            return redirect("accounts:signup_sent")
    return render(request, "accounts/signup.html", {"form": form, "next": _safe_next(request)})


def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_sent.html", {"mail_hint": _development_mail_hint()})


def _development_mail_hint() -> str:
    """Where a development server's mails go: `make run` prints them on its terminal, so the
    sign-up link is there. Production (ENVIRONMENT=production) never says."""
    if settings.IS_PRODUCTION:
        return ""
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
    if backend == "console":
        return (
            "Development server: mails are printed on the worker's console "
            "(the terminal where make run runs), the link with them."
        )
    if backend == "filebased":
        folder = getattr(settings, "EMAIL_FILE_PATH", "")
        return f"Development server: mails are written as files into {folder}."
    return ""


SIGNUP_NEXT_SESSION_KEY = "signup_next"


class SignupFinishView(auth_views.PasswordResetConfirmView):
    """The mailed link: set the password, and be logged in. The link proves the mailbox. Django's
    view moves the token from the address into the session before the form shows, so neither
    the address bar, a Referer nor the audit log's path keeps it; the token is made of the
    password hash and the last login, so it works once."""

    template_name = "accounts/signup_finish.html"
    form_class = PasswordSetForm
    reset_url_token = "set-password"  # noqa: S105 (the path word that replaces the token)
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if following := _safe_next(request):
            request.session[SIGNUP_NEXT_SESSION_KEY] = following
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        team = services.membership_for(form.user, None)
        audit_record("password.set", user=form.user, team=team.team if team else None)
        messages.success(self.request, "Welcome to Outpost. Your password is set.")
        return response

    def get_success_url(self) -> str:
        return str(self.request.session.pop(SIGNUP_NEXT_SESSION_KEY, "") or reverse("home"))

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        if not self.validlink:
            kwargs.setdefault("status", 404)
        return super().render_to_response(context, **kwargs)


def _safe_next(request: HttpRequest) -> str:
    """Where to go after signing up (an invitation link), when it is a path of this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed and target.startswith("/") else ""


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = rate_limit_wait(request, "login", account=request.POST.get("username", ""))
        if wait:
            return _too_many(request, wait)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"

    def get_success_url(self) -> str:
        return reverse("accounts:password_change")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        update_session_auth_hash(self.request, form.user)
        audit_record("password.changed", user=form.user, team=getattr(self.request, "team", None))
        messages.success(self.request, "Password changed.")
        return response


# --- Teams ---------------------------------------------------------------------------------


def _teams_context(request: TeamHttpRequest, **extra: Any) -> dict[str, Any]:
    team = request.team
    return {
        "memberships": services.teams_for(request.user),
        "members": Membership.objects.filter(team=team)
        .select_related("user", "invited_by")
        .order_by("user__email"),
        "invite_form": extra.pop("invite_form", None) or InviteForm(),
        "invitations": invitations.invitations_pending(team)
        if getattr(request, "role", None) == Role.OWNER
        else [],
        "team_form": extra.pop("team_form", None) or TeamCreateForm(),
        "sla_form": extra.pop("sla_form", None) or SlaForm(initial=team.sla_days),
        "is_owner": getattr(request, "role", None) == Role.OWNER,
        "roles": Role.choices,
        **extra,
    }


@login_required
def teams(request: TeamHttpRequest) -> HttpResponse:
    return render(request, "accounts/teams.html", _teams_context(request))


@require_POST
@login_required
def team_switch(request: TeamHttpRequest) -> HttpResponse:
    try:
        team_id = int(request.POST.get("team_id", ""))
    except ValueError:
        team_id = -1
    membership = get_object_or_404(Membership, user=request.user, team_id=team_id)
    request.session["team_id"] = membership.team_id
    messages.info(request, f"Now working in {membership.team.name}.")
    target = request.POST.get("next") or reverse("home")
    if not target.startswith("/") or target.startswith("//"):
        target = reverse("home")
    return HttpResponseRedirect(target)


@require_POST
@team_role_required(Role.OWNER)
def team_sla(request: TeamHttpRequest) -> HttpResponse:
    """Owners set the team's days to fix findings by severity (due dates follow at once)."""
    form = SlaForm(request.POST)
    if form.is_valid():
        services.team_sla_update(team=request.team, user=request.user, days=form.cleaned_data)
        messages.success(request, "Deadlines saved; every open finding's due date follows them.")
        return redirect(f"{reverse('accounts:teams')}#sla")
    return render(
        request, "accounts/teams.html", _teams_context(request, sla_form=form), status=400
    )


@require_POST
@login_required
def team_create(request: TeamHttpRequest) -> HttpResponse:
    form = TeamCreateForm(request.POST)
    if form.is_valid():
        team = services.team_create(name=form.cleaned_data["name"], owner=request.user)
        request.session["team_id"] = team.pk
        messages.success(request, f"Team {team.name} created; you are its owner.")
        return redirect("accounts:teams")
    return render(
        request, "accounts/teams.html", _teams_context(request, team_form=form), status=400
    )


@require_POST
@team_role_required(Role.OWNER)
def member_invite(request: TeamHttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            invitation = invitations.team_member_invite(
                team=request.team, inviter=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(
                "email",
                exc.message_dict.get("email", exc.messages)
                if hasattr(exc, "error_dict")
                else exc.messages,
            )
        except RateLimited as exc:
            form.add_error("email", str(exc.detail))
            status = 429
        else:
            messages.success(
                request,
                f"Invitation sent to {invitation.email} as {invitation.role}; "
                "they join when they accept it.",
            )
            form = InviteForm()
    template = "accounts/_members.html" if request.htmx else "accounts/teams.html"
    if form.errors and status == 200:
        status = 400
    return render(request, template, _teams_context(request, invite_form=form), status=status)


@require_POST
@team_role_required(Role.OWNER)
def invitation_withdraw(request: TeamHttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(invitations.invitations_pending(request.team), pk=pk)
    invitations.invitation_withdraw(invitation=invitation, actor=request.user)
    messages.info(request, f"Invitation of {invitation.email} withdrawn.")
    if request.htmx:
        return render(request, "accounts/_members.html", _teams_context(request))
    return redirect("accounts:teams")


@require_http_methods(["GET", "POST"])
def invitation_open(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link: who is invited where; log in or sign up first, then accept."""
    invitation = invitations.invitation_by_token(token)
    if invitation is None:
        return render(request, "accounts/invitation.html", {"invitation": None}, status=404)
    context = {"invitation": invitation, "path": request.path, "error": ""}
    if request.method == "POST" and request.user.is_authenticated:
        try:
            invitations.invitation_accept(invitation=invitation, user=request.user)
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
            return render(request, "accounts/invitation.html", context, status=400)
        request.session["team_id"] = invitation.team_id
        messages.success(request, f"You joined {invitation.team.name} as {invitation.role}.")
        return redirect("accounts:teams")
    return render(request, "accounts/invitation.html", context)


@require_POST
@team_role_required(Role.OWNER)
def member_role(request: TeamHttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=pk, team=request.team)
    try:
        services.team_member_set_role(
            membership=membership,
            actor=request.user,
            role=request.POST.get("role", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    template = "accounts/_members.html" if request.htmx else "accounts/teams.html"
    return render(request, template, _teams_context(request))


@require_POST
@team_role_required(Role.VIEWER)
def member_remove(request: TeamHttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=pk, team=request.team)
    try:
        services.team_member_remove(membership=membership, actor=request.user)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from exc
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if membership.user_id == request.user.pk:
            request.session.pop("team_id", None)
            messages.info(request, f"You left {membership.team.name}.")
            if request.htmx:
                # The whole page changes team: load it rather than swap a fragment.
                return HttpResponse(headers={"HX-Redirect": reverse("accounts:teams")})
            return redirect("accounts:teams")
    if request.htmx:
        return render(request, "accounts/_members.html", _teams_context(request))
    return redirect("accounts:teams")


# --- API keys ------------------------------------------------------------------------------


def _keys_context(request: TeamHttpRequest, **extra: Any) -> dict[str, Any]:
    keys = services.api_keys_for(team=request.team, user=request.user)
    return {
        "keys": keys,
        "form": extra.pop("form", None) or ApiKeyCreateForm(max_role=request.role),
        **extra,
    }


@team_role_required(Role.VIEWER)
def api_keys(request: TeamHttpRequest) -> HttpResponse:
    return render(request, "accounts/api_keys.html", _keys_context(request))


@require_POST
@team_role_required(Role.VIEWER)
def api_key_create(request: TeamHttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST, max_role=request.role)
    issued = None
    if form.is_valid():
        try:
            issued = services.api_key_create(
                team=request.team,
                user=request.user,
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                expires_at=form.expires_at(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = ApiKeyCreateForm(max_role=request.role)
    template = "accounts/_api_keys.html" if request.htmx else "accounts/api_keys.html"
    context = _keys_context(request, form=form, issued=issued)
    response = render(request, template, context, status=400 if form.errors else 200)
    # The page that shows a key once must not be kept by any cache.
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@team_role_required(Role.VIEWER)
def api_key_revoke(request: TeamHttpRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=pk, team=request.team)
    if api_key.user_id != request.user.pk and request.role != Role.OWNER:
        # Other members' keys are invisible to non-owners: a 404, like any other team's object.
        return render(request, "404.html", status=404)
    services.api_key_revoke(api_key=api_key, actor=request.user)
    template = "accounts/_api_keys.html" if request.htmx else "accounts/api_keys.html"
    return render(request, template, _keys_context(request))
