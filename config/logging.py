"""Structured JSON logs (structlog) that carry the request id of the request being served."""

from __future__ import annotations

from typing import Any

import structlog

SECRET_FIELD_SUFFIXES = ("password", "secret", "token", "authorization", "_key", "apikey")


def redact_secrets(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Replace values of fields whose name says they hold a secret; logs never carry one."""
    for field in list(event):
        lowered = field.lower()
        if lowered.endswith(SECRET_FIELD_SUFFIXES) or lowered in ("key", "raw"):
            event[field] = "[redacted]"
    return event


SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact_secrets,
]


def build_logging(*, level: str, json: bool) -> dict[str, Any]:
    """Configure structlog and return Django's LOGGING dict routing stdlib logs through it."""
    structlog.configure(
        processors=[
            *SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
                "foreign_pre_chain": SHARED_PROCESSORS,
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Request lines are written by the audit log; Django's own would duplicate them.
            "django.server": {"level": "WARNING"},
            "django.request": {"level": "ERROR"},
            "django.db.backends": {"level": "INFO"},
            # httpx logs every request URL at INFO; webhook URLs are secrets (integrations).
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
