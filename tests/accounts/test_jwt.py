"""JWTs from /api/v1/auth/token: accepted when valid, refused when expired, tampered, unsigned
(`alg: none`), signed with another algorithm (RS256 / HS-RS confusion), or when their key died."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from accounts.models import Role, Team, User
from accounts.services import IssuedKey, api_key_revoke, team_member_remove
from accounts.tokens import _jwt_key

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def issued(user: User, team: Team, issue_key: Callable[..., IssuedKey]) -> IssuedKey:
    return issue_key(user, team)


@pytest.fixture
def token(issued: IssuedKey) -> str:
    answer = APIClient().post("/api/v1/auth/token", {"api_key": issued.raw_key}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    return str(body["access_token"])


def test_a_valid_token_authenticates_as_the_key(
    token: str, issued: IssuedKey, api: Callable[..., APIClient]
) -> None:
    me = api(token).get(ME)
    assert me.status_code == 200
    assert me.json()["auth"] == "jwt"
    assert me.json()["team"]["id"] == issued.api_key.team_id
    claims = _claims_of(token)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims["exp"] - claims["iat"] == 900
    assert {"sub", "team", "akid", "jti", "iss"} <= set(claims)


def test_the_token_endpoint_refuses_a_bad_key(db: None) -> None:
    answer = APIClient().post(
        "/api/v1/auth/token", {"api_key": "opk_nope-nope-nope-nope"}, format="json"
    )
    assert answer.status_code == 401
    assert answer.json()["detail"] == "Invalid API key."


def test_an_expired_token_is_refused(token: str, api: Callable[..., APIClient]) -> None:
    claims = _claims_of(token)
    claims["iat"] = int(time.time()) - 3600
    claims["exp"] = int(time.time()) - 60
    expired = jwt.encode(claims, _jwt_key(), algorithm="HS256")
    answer = api(expired).get(ME)
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_a_token_with_a_tampered_payload_is_refused(
    token: str, api: Callable[..., APIClient], make_user: Callable[..., User]
) -> None:
    other = make_user("other@example.test")
    header, _payload, signature = token.split(".")
    claims = _claims_of(token)
    claims["sub"] = str(other.pk)
    claims["team"] = Team.objects.get(personal_owner=other).pk
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    answer = api(forged).get(ME)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "Token signature is invalid."


def test_a_token_with_a_tampered_signature_is_refused(
    token: str, api: Callable[..., APIClient]
) -> None:
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert api(f"{header}.{payload}.{flipped}").get(ME).status_code == 401


def test_a_token_signed_with_another_secret_is_refused(
    token: str, api: Callable[..., APIClient]
) -> None:
    from django.conf import settings

    # The raw SECRET_KEY is not the JWT key: a JWT is never made from other Django signatures.
    forged = jwt.encode(_claims_of(token), settings.SECRET_KEY, algorithm="HS256")
    assert api(forged).get(ME).status_code == 401


def test_an_unsigned_alg_none_token_is_refused(token: str, api: Callable[..., APIClient]) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims_of(token)).encode())
    for unsigned in (f"{header}.{payload}.", f"{header}.{payload}"):
        answer = api(unsigned).get(ME)
        assert answer.status_code == 401
    assert "not accepted" in api(f"{header}.{payload}.").get(ME).json()["detail"]


def test_an_rs256_token_is_refused(token: str, api: Callable[..., APIClient]) -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims_of(token), private_key, algorithm="RS256")
    answer = api(forged).get(ME)
    assert answer.status_code == 401
    assert "'RS256' is not accepted" in answer.json()["detail"]


def test_hs_rs_confusion_is_refused(token: str, api: Callable[..., APIClient]) -> None:
    """The classic confusion: a header claiming RS256 over an HMAC signature made with a key the
    attacker knows (here a public key), and a header claiming HS256 signed with a public key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = _claims_of(token)
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    import hashlib
    import hmac

    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert api(f"{header}.{payload}.{signature}").get(ME).status_code == 401

    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    hs_signature = _b64(
        hmac.new(public_pem, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest()
    )
    assert api(f"{hs_header}.{payload}.{hs_signature}").get(ME).status_code == 401


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # the forger's HS512 with a 32-byte key
def test_another_hmac_algorithm_is_refused_even_with_the_right_key(
    token: str, api: Callable[..., APIClient]
) -> None:
    forged = jwt.encode(_claims_of(token), _jwt_key(), algorithm="HS512")
    assert api(forged).get(ME).status_code == 401


def test_garbage_tokens_are_refused_with_401(db: None, api: Callable[..., APIClient]) -> None:
    for garbage in ("x", "a.b", "a.b.c", "....", _b64(b"[]") + "." + _b64(b"{}") + ".sig"):
        answer = api(garbage).get(ME)
        assert answer.status_code == 401, garbage
        assert answer.json()["detail"]


def test_a_token_dies_with_its_key(
    token: str, issued: IssuedKey, user: User, api: Callable[..., APIClient]
) -> None:
    assert api(token).get(ME).status_code == 200
    api_key_revoke(api_key=issued.api_key, actor=user)
    assert api(token).get(ME).status_code == 401


def test_a_token_dies_when_its_user_leaves_the_team(
    shared_team: Team,
    user: User,
    make_member: Callable[..., User],
    issue_key: Callable[..., IssuedKey],
    api: Callable[..., APIClient],
) -> None:
    member = make_member(shared_team, Role.ANALYST)
    key = issue_key(member, shared_team)
    token = APIClient().post("/api/v1/auth/token", {"api_key": key.raw_key}, format="json").json()
    jwt_token = token["access_token"]
    assert api(jwt_token).get(ME).status_code == 200
    team_member_remove(membership=shared_team.memberships.get(user=member), actor=user)
    assert api(jwt_token).get(ME).status_code == 401
