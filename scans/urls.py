from __future__ import annotations

from django.urls import path

from scans import views, views_reports
from scans.reports import views as views_dashboard
from scans.findings import views as views_findings
from scans.imports import views as views_import

app_name = "scans"

urlpatterns = [
    path("", views.scan_list, name="list"),
    path("new", views.scan_new, name="new"),
    path("import", views_import.report_import, name="import"),
    path("<int:pk>/", views.scan_detail, name="detail"),
    path("<int:pk>/live", views.scan_live, name="live"),
    path("<int:pk>/findings", views.scan_findings, name="findings"),
    path("<int:pk>/cancel", views.scan_cancel, name="cancel"),
    path("<int:pk>/delete", views.scan_delete, name="delete"),
    path("running", views_dashboard.dashboard_running, name="running"),
    path("<int:pk>/diff", views_findings.scan_diff_panel, name="diff"),
    path("<int:pk>/report", views_reports.scan_report_panel, name="report"),
    path("<int:pk>/report.pdf", views_reports.scan_report_download, name="report_pdf"),
]
