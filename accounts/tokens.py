"""API key material and short-lived JWTs.

API keys are `opk_` + 43 url-safe characters (32 random bytes). They have 256 bits of entropy,
so a plain SHA-256 is a sufficient at-rest hash (no salt or stretching needed, unlike passwords)
and lets a request find its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.utils import timezone

API_KEY_PREFIX = "opk_"
PREFIX_LENGTH = 12  # "opk_" + 8 characters: enough to tell keys apart in a list, useless to guess
JWT_ALGORITHM = "HS256"


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def looks_like_api_key(raw: str) -> bool:
    return raw.startswith(API_KEY_PREFIX) and 20 <= len(raw) <= 128


def generate_reset_token() -> str:
    return secrets.token_urlsafe(24)


def _jwt_key() -> bytes:
    # A key derived from SECRET_KEY for this purpose only, so a JWT is never a valid signature
    # for anything else Django signs.
    return hmac.new(settings.SECRET_KEY.encode(), b"outpost.jwt.v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class JwtClaims:
    user_id: int
    team_id: int
    api_key_id: int
    jti: str


class JwtError(Exception):
    """A JWT was refused; the message is safe to show to the client."""


def jwt_issue(*, user_id: int, team_id: int, api_key_id: int) -> tuple[str, int]:
    """Sign a JWT for an API key's user and team. Returns (token, lifetime in seconds)."""
    lifetime_s = settings.JWT_LIFETIME_S
    now = timezone.now()
    claims: dict[str, Any] = {
        "iss": settings.JWT_ISSUER,
        "sub": str(user_id),
        "team": team_id,
        "akid": api_key_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=lifetime_s)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, _jwt_key(), algorithm=JWT_ALGORITHM), lifetime_s


def jwt_decode(token: str) -> JwtClaims:
    """Verify signature, algorithm, expiry and issuer. Only HS256 is accepted: `alg: none` and
    RS/HS confusion are refused before the signature is even considered."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise JwtError("Malformed token.") from exc
    if header.get("alg") != JWT_ALGORITHM:
        raise JwtError(f"Token algorithm {header.get('alg')!r} is not accepted; use HS256.")
    try:
        claims = jwt.decode(
            token,
            _jwt_key(),
            algorithms=[JWT_ALGORITHM],
            issuer=settings.JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "team", "akid"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise JwtError("Token has expired; request a new one at /api/v1/auth/token.") from exc
    except jwt.InvalidSignatureError as exc:
        raise JwtError("Token signature is invalid.") from exc
    except jwt.InvalidTokenError as exc:
        raise JwtError(f"Token is invalid: {exc}.") from exc
    try:
        return JwtClaims(
            user_id=int(claims["sub"]),
            team_id=int(claims["team"]),
            api_key_id=int(claims["akid"]),
            jti=str(claims["jti"]),
        )
    except (TypeError, ValueError) as exc:
        raise JwtError("Token claims are malformed.") from exc
