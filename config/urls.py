from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health, prometheus

# Each app's API module ends with its routes (`urlpatterns`), mounted under /api/v1/. Apps are
# named as strings: config imports none of them.
API_MODULES = ["accounts.api", "targets.api", "workflows.api", "scans.api", "integrations.api"]

urlpatterns = [
    path("", include("scans.reports.urls")),  # home: the dashboard
    path("", include("scans.urls")),  # scans/…, a workflow's Run panel
    path("accounts/", include("accounts.urls")),
    path("targets/", include("targets.urls")),
    path("integrations/", include("integrations.urls")),
    path("findings/", include("scans.findings.urls")),
    path("assets/", include("scans.assets.urls")),
    path("workflows/", include("workflows.urls")),
    path("admin/", admin.site.urls),
    path("health", health.health, name="health"),
    path("metrics", prometheus.metrics, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *[path("api/v1/", include(module)) for module in API_MODULES],
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
