"""The home page (the team's dashboard), mounted at "/" by config.urls under the global name
`home` (every page links to it)."""

from __future__ import annotations

from django.urls import path

from scans.reports import views

urlpatterns = [path("", views.home, name="home")]
