from __future__ import annotations

from django.apps import AppConfig


class ScansConfig(AppConfig):
    name = "scans"
    verbose_name = "Scans, steps and findings"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from scans.engine.recurring import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)

        from django_q.signals import post_spawn

        from scans.engine.keeper import keeper_start
        from scans.engine.sandbox.container import sandbox_prewarm_on_spawn

        # Each worker process sweeps for stale and lost steps (scans.engine.keeper).
        post_spawn.connect(keeper_start, dispatch_uid="outpost-keeper")
        # ...and starts its first sandbox holder before its first step needs one.
        post_spawn.connect(sandbox_prewarm_on_spawn, dispatch_uid="outpost-sandbox-prewarm")

        from scans.findings import receivers  # noqa: F401  (triage and dashboard signal receivers)
