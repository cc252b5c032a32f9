from __future__ import annotations

from django.urls import path

from scans import views

app_name = "scans"

urlpatterns = [
    path("", views.scan_list, name="list"),
    path("new", views.scan_new, name="new"),
    path("<int:pk>/", views.scan_detail, name="detail"),
    path("<int:pk>/live", views.scan_live, name="live"),
    path("<int:pk>/findings", views.scan_findings, name="findings"),
    path("<int:pk>/cancel", views.scan_cancel, name="cancel"),
    path("<int:pk>/delete", views.scan_delete, name="delete"),
]
