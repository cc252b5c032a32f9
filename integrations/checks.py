"""System check: a malformed INTEGRATIONS_KEY stops `manage.py check` (and start-up) with the
reason, instead of failing at the first delivery."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from integrations.crypto import configured_keys


@checks.register(checks.Tags.security)
def integrations_key_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:

    try:
        configured_keys(settings.INTEGRATIONS_KEY, settings.SECRET_KEY)
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="integrations.E001")]
    return []
