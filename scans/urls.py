"""The scans app's pages, mounted at the site root by config.urls: the scan pages (`scans/…`), a
workflow's Run panel (`workflows/<id>/run`, shown in the builder), and the report and import
pages of the scans packages. The findings pages (`findings/`) and the home page are mounted
separately: they have their own URL names."""

from __future__ import annotations

from django.urls import path

from scans import admin as scans_admin
from scans import views
from scans.assets import views as asset_views
from scans.findings import views as finding_views
from scans.imports import views as import_views
from scans.reports import views as report_views

app_name = "scans"

urlpatterns = [
    # Staff only, in the admin's look; before the admin's own URLs (config.urls includes this
    # module first).
    path("admin/queue/", scans_admin.queue_page, name="queue"),
    path("scans/", views.scan_list, name="list"),
    path("scans/new", views.scan_new, name="new"),
    path("scans/import", import_views.report_import, name="import"),
    path("scans/import/identify", import_views.report_identify, name="import-identify"),
    path("scans/<int:pk>/", views.scan_detail, name="detail"),
    path("scans/<int:pk>/live", views.scan_live, name="live"),
    path("scans/<int:pk>/findings", views.scan_findings, name="findings"),
    path("scans/<int:pk>/cancel", views.scan_cancel, name="cancel"),
    path("scans/<int:pk>/delete", views.scan_delete, name="delete"),
    path("scans/running", report_views.dashboard_running, name="running"),
    path("scans/<int:pk>/diff", finding_views.scan_diff_panel, name="diff"),
    path("scans/<int:pk>/assets", asset_views.scan_assets_panel, name="assets"),
    path("scans/<int:pk>/report", report_views.scan_report_panel, name="report"),
    path("scans/<int:pk>/report.pdf", report_views.scan_report_download, name="report_pdf"),
    path("workflows/<int:pk>/run", views.workflow_run, name="workflow_run"),
    path("workflows/<int:pk>/readiness", views.workflow_readiness, name="workflow_readiness"),
]
