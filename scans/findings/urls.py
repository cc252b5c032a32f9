from __future__ import annotations

from django.urls import path

from scans.findings import views as views_findings

app_name = "findings"

urlpatterns = [
    path("", views_findings.finding_list, name="list"),
    path("triage", views_findings.finding_bulk_triage, name="triage"),
    path("<int:pk>/", views_findings.finding_detail, name="detail"),
]
