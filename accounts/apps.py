from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, teams and audit"

    def ready(self) -> None:
        from accounts import (
            schema,  # noqa: F401  (registers the OpenAPI authentication schemes)
            signals,  # noqa: F401  (connects the login audit receivers)
        )
