from __future__ import annotations

from django.apps import AppConfig


class ScansConfig(AppConfig):
    name = "scans"
    verbose_name = "Scans, steps and findings"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from scans.engine.recurring import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)

        from scans.findings import receivers  # noqa: F401  (triage and dashboard signal receivers)
