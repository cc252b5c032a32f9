"""Re-encrypt every integration secret with the first INTEGRATIONS_KEY (key rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from integrations.crypto import SecretUnreadable, secrets_rotate
from integrations.models import Integration


class Command(BaseCommand):
    help = (
        "Re-encrypt stored webhook URLs and signing secrets with the first key of INTEGRATIONS_KEY. "
        "Put the new key first, keep the old one after it, run this, then remove the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = unreadable = 0
        for integration in Integration.objects.exclude(secrets_encrypted="").only(
            "pk", "secrets_encrypted"
        ):
            try:
                token = secrets_rotate(integration.secrets_encrypted)
            except SecretUnreadable:
                unreadable += 1
                self.stderr.write(
                    f"integration #{integration.pk}: cannot be decrypted with any configured key"
                )
                continue
            Integration.objects.filter(pk=integration.pk).update(secrets_encrypted=token)
            rotated += 1
        self.stdout.write(f"re-encrypted {rotated} integration secret(s); {unreadable} unreadable")
