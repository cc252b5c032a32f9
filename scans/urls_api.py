from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from scans import api

router = SimpleRouter(trailing_slash=False)
router.register("scans", api.ScanViewSet, basename="scan")

urlpatterns = [
    path("scans/import", api.ScanImportView.as_view(), name="scan-import"),
    path("scan/docker", api.DockerScanView.as_view(), name="scan-docker"),
    *router.urls,
]
