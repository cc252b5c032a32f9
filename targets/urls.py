from __future__ import annotations

from django.urls import path

from targets import views

app_name = "targets"

urlpatterns = [
    path("", views.target_list, name="list"),
    path("add", views.target_add, name="add"),
    path("import", views.target_import, name="import"),
    path("<int:pk>/edit", views.target_edit, name="edit"),
    path("<int:pk>/delete", views.target_delete, name="delete"),
]
