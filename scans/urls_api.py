from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from scans import api
from scans.imports import api as api_ci
from scans.findings import api as api_findings
from scans.reports import metrics

router = SimpleRouter(trailing_slash=False)
router.register("scans", api.ScanViewSet, basename="scan")
router.register("findings", api_findings.FindingViewSet, basename="finding")

urlpatterns = [
    path("scans/import", api_ci.ScanImportView.as_view(), name="scan-import"),
    path("scan/docker", api_ci.DockerScanView.as_view(), name="scan-docker"),
    path("metrics", metrics.MetricsView.as_view(), name="team-metrics"),
    *router.urls,
]
