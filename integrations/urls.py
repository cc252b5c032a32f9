from __future__ import annotations

from django.urls import path

from integrations import views
from integrations.schedules import views as schedule_views

app_name = "integrations"

urlpatterns = [
    path("", views.integration_list, name="list"),
    path("new/<str:kind>", views.integration_new, name="new"),
    path("<int:pk>/", views.integration_detail, name="detail"),
    path("<int:pk>/edit", views.integration_edit, name="edit"),
    path("<int:pk>/deliveries", views.integration_deliveries, name="deliveries"),
    path("<int:pk>/test", views.integration_test, name="test"),
    path("<int:pk>/delete", views.integration_delete, name="delete"),
    path("rules/add", views.rule_add, name="rule_add"),
    path("rules/<int:pk>/toggle", views.rule_toggle, name="rule_toggle"),
    path("rules/<int:pk>/delete", views.rule_delete, name="rule_delete"),
    path("notify/scan/<int:scan_pk>", views.scan_notify, name="scan_notify"),
    path("schedules/", schedule_views.schedule_list, name="schedules"),
    path("schedules/new", schedule_views.schedule_new, name="schedule_new"),
    path("schedules/<int:pk>/edit", schedule_views.schedule_edit, name="schedule_edit"),
    path("schedules/<int:pk>/pause", schedule_views.schedule_pause, name="schedule_pause"),
    path("schedules/<int:pk>/resume", schedule_views.schedule_resume, name="schedule_resume"),
    path("schedules/<int:pk>/delete", schedule_views.schedule_delete, name="schedule_delete"),
]
