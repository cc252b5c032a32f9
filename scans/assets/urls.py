from __future__ import annotations

from django.urls import path

from scans.assets import views

app_name = "assets"

urlpatterns = [
    path("", views.asset_list, name="list"),
    path("targets", views.asset_targets, name="targets"),
    path("<int:pk>/", views.asset_detail, name="detail"),
    path("<int:pk>/screenshot", views.asset_screenshot, name="screenshot"),
]
