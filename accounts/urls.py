from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("signup", views.signup, name="signup"),
    path("signup/sent", views.signup_sent, name="signup_sent"),
    path(
        "signup/finish/<str:uidb64>/<str:token>",
        views.SignupFinishView.as_view(),
        name="signup_finish",
    ),
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("password", views.PasswordChangeView.as_view(), name="password_change"),
    path("teams", views.teams, name="teams"),
    path("teams/switch", views.team_switch, name="team_switch"),
    path("teams/create", views.team_create, name="team_create"),
    path("teams/sla", views.team_sla, name="team_sla"),
    path("teams/members/invite", views.member_invite, name="member_invite"),
    path(
        "teams/invitations/<int:pk>/withdraw",
        views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    path("invitations/<str:token>", views.invitation_open, name="invitation"),
    path("teams/members/<int:pk>/role", views.member_role, name="member_role"),
    path("teams/members/<int:pk>/remove", views.member_remove, name="member_remove"),
    path("api-keys", views.api_keys, name="api_keys"),
    path("api-keys/create", views.api_key_create, name="api_key_create"),
    path("api-keys/<int:pk>/revoke", views.api_key_revoke, name="api_key_revoke"),
]
