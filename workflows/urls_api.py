from __future__ import annotations

from rest_framework.routers import SimpleRouter

from workflows import api

router = SimpleRouter(trailing_slash=False)
router.register("workflows", api.WorkflowViewSet, basename="workflow")

urlpatterns = router.urls
