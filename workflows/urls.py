from __future__ import annotations

from django.urls import path

from workflows import builder, views

app_name = "workflows"

urlpatterns = [
    path("", views.workflow_list, name="list"),
    path("new", views.workflow_new, name="new"),
    path("import", views.workflow_import, name="import"),
    path("<int:pk>/", builder.builder, name="builder"),
    path("<int:pk>/graph", builder.builder_graph, name="graph"),
    path("<int:pk>/panel", builder.workflow_panel, name="panel"),
    path("<int:pk>/settings", builder.workflow_settings, name="settings"),
    path("<int:pk>/nodes/<str:node_id>", builder.node_panel, name="node"),
    path("<int:pk>/duplicate", views.workflow_duplicate, name="duplicate"),
    path("<int:pk>/delete", views.workflow_delete, name="delete"),
]
