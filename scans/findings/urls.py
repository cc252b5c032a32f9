from __future__ import annotations

from django.urls import path

from scans.findings import views as views_findings

app_name = "findings"

urlpatterns = [
    path("", views_findings.finding_list, name="list"),
    path("triage", views_findings.finding_bulk_triage, name="triage"),
    path("group", views_findings.finding_group_rows, name="group"),
    path(
        "<int:pk>/acceptance",
        views_findings.finding_acceptance_decide,
        name="acceptance",
    ),
    path("<int:pk>/", views_findings.finding_detail, name="detail"),
]
