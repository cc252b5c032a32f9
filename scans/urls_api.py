from __future__ import annotations

from rest_framework.routers import SimpleRouter

from scans import api

router = SimpleRouter(trailing_slash=False)
router.register("scans", api.ScanViewSet, basename="scan")

urlpatterns = router.urls
