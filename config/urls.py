from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health, metrics, views

# Each app exposes its API routes in `<app>/urls_api.py`, mounted under /api/v1/.
API_MODULES = [
    "accounts.urls_api",
    "targets.urls_api",
    "workflows.urls_api",
    "scans.urls_api",
    "integrations.urls_api",
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("targets/", include("targets.urls")),
    path("scans/", include("scans.urls")),
    path("integrations/", include("integrations.urls")),
    path("findings/", include("scans.findings.urls")),
    path("workflows/", include("workflows.urls")),
    path("admin/", admin.site.urls),
    path("health", health.health, name="health"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *[path("api/v1/", include(module)) for module in API_MODULES],
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
