from __future__ import annotations

from rest_framework.routers import SimpleRouter

from targets import api

router = SimpleRouter(trailing_slash=False)
router.register("targets", api.TargetViewSet, basename="target")

urlpatterns = [*router.urls]
