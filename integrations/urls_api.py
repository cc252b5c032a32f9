from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from integrations import api, api_schedules
from integrations.models import IntegrationKind

router = SimpleRouter(trailing_slash=False)
router.register("integrations", api.IntegrationViewSet, basename="integration")
router.register("notification-rules", api.NotificationRuleViewSet, basename="notification-rule")
router.register("schedules", api_schedules.ScheduleViewSet, basename="schedule")

urlpatterns = [
    path(
        "integrations/slack",
        api.KindIntegrationsView.as_view(kind=IntegrationKind.SLACK),
        name="integrations-slack",
    ),
    path(
        "integrations/discord",
        api.KindIntegrationsView.as_view(kind=IntegrationKind.DISCORD),
        name="integrations-discord",
    ),
    path("scans/<int:pk>/notify", api.ScanNotifyView.as_view(), name="scan-notify"),
    path("actions/send-slack", api.SendSlackActionView.as_view(), name="action-send-slack"),
    *router.urls,
]
