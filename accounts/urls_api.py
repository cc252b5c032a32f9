from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import api

router = SimpleRouter(trailing_slash=False)
router.register("auth/api-keys", api.ApiKeyViewSet, basename="api-key")
router.register("teams/members", api.MemberViewSet, basename="member")
router.register("audit", api.AuditViewSet, basename="audit")

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="auth-register"),
    path("auth/reset-request", api.ResetRequestView.as_view(), name="auth-reset-request"),
    path("auth/reset-confirm", api.ResetConfirmView.as_view(), name="auth-reset-confirm"),
    path("auth/token", api.TokenView.as_view(), name="auth-token"),
    path("auth/me", api.MeView.as_view(), name="auth-me"),
    path("teams", api.TeamListView.as_view(), name="teams"),
    *router.urls,
]
