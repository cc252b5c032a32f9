"""Reading settings from the environment (and a `.env` file when present)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def load_dotenv_file(base_dir: Path) -> None:
    """Read `.env` without overriding variables the process already has."""
    from dotenv import load_dotenv

    load_dotenv(base_dir / ".env", override=False)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_prefixed(prefix: str, *, exclude: set[str] | None = None) -> dict[str, str]:
    """Every non-empty variable named PREFIX<NAME>, as {name (lower case): value}: per-tool
    settings whose tools are not known here (TOOL_IMAGE_NMAP -> {"nmap": ...})."""
    return {
        name[len(prefix) :].lower(): value.strip()
        for name, value in os.environ.items()
        if name.startswith(prefix) and name not in (exclude or set()) and value.strip()
    }


def email_settings(url: str) -> dict[str, object]:
    """Turn `EMAIL_URL` into Django e-mail settings.

    `console://` prints mails (development), `locmem://` keeps them in memory (tests),
    `file:///path` writes them to a folder, `smtp://user:pass@host:587?tls=true` or
    `smtps://…` (implicit TLS) sends them.
    """
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": unquote(parsed.path),
        }
    if scheme in {"smtp", "smtps"}:
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parsed.hostname or "localhost",
            "EMAIL_PORT": parsed.port or (465 if scheme == "smtps" else 25),
            "EMAIL_HOST_USER": unquote(parsed.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
            "EMAIL_USE_TLS": query.get("tls", "").lower() in TRUE_WORDS,
            "EMAIL_USE_SSL": scheme == "smtps",
            "EMAIL_TIMEOUT": 10,
        }
    raise ImproperlyConfigured(
        f"EMAIL_URL scheme {scheme!r} is not supported (console, locmem, file, smtp, smtps)"
    )


def artifacts_storage(kind: str, folder: Path) -> dict[str, Any]:
    """`STORAGES["artifacts"]` (config/artifacts.py): the local folder, or an S3-compatible
    bucket configured by the ARTIFACTS_S3_* variables."""
    if kind == "local":
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "allow_overwrite": True},
        }
    if kind != "s3":
        raise ImproperlyConfigured("ARTIFACTS_STORAGE must be local or s3")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("ARTIFACTS_S3_BUCKET", "outpost-artifacts"),
            "endpoint_url": env_str("ARTIFACTS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("ARTIFACTS_S3_REGION", "") or None,
            # Empty: boto3's own chain (instance role, AWS_* variables, web identity).
            "access_key": env_str("ARTIFACTS_S3_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("ARTIFACTS_S3_SECRET_ACCESS_KEY", "") or None,
            "location": env_str("ARTIFACTS_S3_PREFIX", "").strip("/"),
            "addressing_style": env_str("ARTIFACTS_S3_ADDRESSING_STYLE", "") or None,
            "default_acl": None,  # private objects: the bucket's policy decides
            "file_overwrite": True,  # a retried upload replaces its half-written predecessor
            "querystring_expire": 300,
        },
    }
