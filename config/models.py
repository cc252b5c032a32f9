"""What the whole installation shares, below every app: its deployment identity."""

from __future__ import annotations

from django.db import models


class Deployment(models.Model):
    """This installation's identity: one row (pk 1), written by the first `migrate`.

    Every process of one deployment (web, workers, on any machine) reads the same database, so
    they agree on the id; two deployments sharing a Docker engine (or a test run beside a dev
    server) do not. Tool containers carry it as a label, and the reaper removes only the
    containers that carry its own."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    deployment_id = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.deployment_id
