"""The deployment id (`config.models.Deployment`): made once, at the first `migrate`, read by the
Docker executor's labels, the reaper's orphan sweep and `/health`."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from config.models import Deployment

DEPLOYMENT_LABEL = "outpost.deployment"


def new_deployment_id() -> str:
    return uuid.uuid4().hex


def deployment_id() -> str:
    """This deployment's id. The first migration writes it; should the row be gone (a test
    database flushed between tests) a new one is made, so the answer is always this database's.
    Not cached in the process: a flushed test database gets a new id, and a stale cached one
    would label containers the reaper then no longer recognises."""
    found = Deployment.objects.filter(pk=1).values_list("deployment_id", flat=True).first()
    if found:
        return found
    try:
        with transaction.atomic():
            return Deployment.objects.create(pk=1, deployment_id=new_deployment_id()).deployment_id
    except IntegrityError:  # another process made it first
        return Deployment.objects.values_list("deployment_id", flat=True).get(pk=1)
