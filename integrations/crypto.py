"""Encryption at rest of integration secrets (webhook URLs, signing secrets) with Fernet.

Keys: `INTEGRATIONS_KEY` is a comma-separated list of Fernet keys; the first encrypts, every one
decrypts (MultiFernet), so a key is rotated by putting a new key first, running
`manage.py integrations_rotate_key` (re-encrypts every row with it), then dropping the old one.
Without `INTEGRATIONS_KEY` the key is derived from SECRET_KEY with HKDF-SHA256: changing
SECRET_KEY then makes stored secrets unreadable (the pages say so and ask for them again).
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

HKDF_SALT = b"outpost-integrations-v1"
HKDF_INFO = b"fernet key for integration secrets"


class SecretUnreadable(Exception):
    """The stored token cannot be decrypted with the configured keys."""


def derived_key(secret_key: str) -> bytes:
    """A Fernet key derived from SECRET_KEY (used when INTEGRATIONS_KEY is not set)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=HKDF_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


def configured_keys(value: str, secret_key: str) -> list[bytes]:
    """The keys from an INTEGRATIONS_KEY value (first encrypts), or the derived one."""
    keys = [part.strip().encode() for part in value.split(",") if part.strip()]
    if not keys:
        return [derived_key(secret_key)]
    for index, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"INTEGRATIONS_KEY entry {index} is not a Fernet key (32 url-safe base64-encoded "
                "bytes; make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from exc
    return keys


@lru_cache(maxsize=4)
def _fernet(value: str, secret_key: str) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in configured_keys(value, secret_key)])


def fernet() -> MultiFernet:
    return _fernet(settings.INTEGRATIONS_KEY, settings.SECRET_KEY)


def secrets_encrypt(secrets: dict[str, Any]) -> str:
    return fernet().encrypt(json.dumps(secrets, separators=(",", ":")).encode()).decode()


def secrets_decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        data = json.loads(fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(
            "the stored secret cannot be decrypted with the current key (INTEGRATIONS_KEY or "
            "SECRET_KEY changed?); enter the webhook URL again"
        ) from exc
    return data if isinstance(data, dict) else {}


def secrets_rotate(token: str) -> str:
    """The token re-encrypted with the first configured key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "the stored secret cannot be decrypted with any configured key"
        ) from exc


def url_mask(url: str) -> str:
    """`https://hooks.slack.com/…a1b2`: scheme, host and the last four characters, which is
    enough to tell two webhooks apart and too little to post to either."""
    parts = urlsplit(url)
    tail = url.rstrip("/")[-4:] if len(url) > 24 else ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}/…{tail}"
