"""Password hashing (argon2id), access tokens (JWT) and opaque refresh tokens.

Invariants: only the configured JWT algorithm is accepted (so `alg: none` and algorithm confusion fail);
every required claim must be present and of its type (so a token with a bad claim is refused as invalid,
never a 500); refresh tokens are random and stored only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .ids import new_id


class _PasswordHashing:
    # argon2-cffi's defaults follow RFC 9106's second recommended option (64 MiB, t=3, p=4).
    hasher = PasswordHasher()
    # Verified against when the email is unknown, so a miss costs as much time as a wrong password.
    dummy_hash = hasher.hash(secrets.token_urlsafe(16))


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Change the cost of new hashes (the test suite uses argon2's cheapest profile). Every hash carries its
    own parameters, so hashes made before still verify."""
    _PasswordHashing.hasher = hasher
    _PasswordHashing.dummy_hash = hasher.hash(secrets.token_urlsafe(16))


REQUIRED_CLAIMS = ("sub", "tenant_id", "role", "exp", "iat", "jti")


def hash_password(password: str) -> str:
    return _PasswordHashing.hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    hashing = _PasswordHashing
    try:
        return hashing.hasher.verify(password_hash or hashing.dummy_hash, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    issued_at: datetime
    expires_at: datetime
    token_id: uuid.UUID


# Verified tokens remembered per process; past this many the memory starts again (one token per live session).
_VERIFIED_CAPACITY = 10_000


class InvalidToken(Exception):
    """The token is malformed, forged, expired or signed with another algorithm."""


class TokenCodec:
    def __init__(self, secret: str, algorithm: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self.ttl_seconds = ttl_seconds
        self._verified: dict[str, AccessClaims] = {}

    def issue(self, *, user_id: uuid.UUID, tenant_id: uuid.UUID, role: str, now: datetime) -> str:
        claims = {
            "sub": str(user_id),
            "tenant_id": str(tenant_id),
            "role": role,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.ttl_seconds)).timestamp()),
            "jti": str(new_id()),
        }
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        """The claims of a token this codec signed, unexpired at `now`; else `InvalidToken`.

        A client presents the same token on every request for its lifetime, so the claims of a token whose
        signature was checked once are kept (by the exact token text, bounded) and only its expiry is re-checked:
        PyJWT's decoding is most of the CPU an authenticated read costs otherwise (`engage bench api`)."""
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at <= now:
                raise InvalidToken("token expired")
            return known
        claims = self._decode(token, now=now)
        if len(self._verified) >= _VERIFIED_CAPACITY:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _decode(self, token: str, *, now: datetime) -> AccessClaims:
        claims = decode_claims(token, self._secret, self._algorithm, REQUIRED_CLAIMS)
        access = access_claims(claims)
        # Expiry is checked against the injected clock, not the wall clock, so the simulator's
        # shifted time and tests agree with what tokens say.
        if access.expires_at <= now:
            raise InvalidToken("token expired")
        return access


def decode_claims(token: str, key: str | bytes, algorithm: str, required: Sequence[str]) -> dict[str, Any]:
    """A signed token's claims, each of `required` present; the signature checked, expiry and issue time left to
    the caller (they are read against the injected clock); else `InvalidToken`."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options={"require": list(required), "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return claims


def access_claims(claims: dict[str, Any], *, iat: str = "iat", exp: str = "exp", jti: str = "jti") -> AccessClaims:
    """The session `claims` stand for: user, tenant and role, and the session's issue, expiry and id read from the
    claims named `iat`, `exp` and `jti` (a stream token carries its session's under other names)."""
    issued_at = numeric_date(claims, iat)
    expires_at = numeric_date(claims, exp)
    try:
        return AccessClaims(
            user_id=uuid.UUID(_text(claims, "sub")),
            tenant_id=uuid.UUID(_text(claims, "tenant_id")),
            role=_text(claims, "role"),
            issued_at=issued_at,
            expires_at=expires_at,
            token_id=uuid.UUID(_text(claims, jti)),
        )
    except ValueError as exc:
        raise InvalidToken(str(exc)) from exc


# The last second `datetime` can hold (9999-12-31T23:59:59Z). A signed claim past it would otherwise raise
# OverflowError from `fromtimestamp`, a 500 instead of a 401.
_MAX_NUMERIC_DATE = 253_402_300_799


def numeric_date(claims: dict[str, Any], name: str) -> datetime:
    """An RFC 7519 NumericDate claim: a JSON integer of seconds since the epoch (we issue no fractions).
    Strings and booleans are refused, though `int()` would take them."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_NUMERIC_DATE:
        raise InvalidToken(f"{name} is not a NumericDate")
    return datetime.fromtimestamp(value, tz=UTC)


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims[name]
    if not isinstance(value, str):
        raise InvalidToken(f"{name} is not a string")
    return value


def new_refresh_token() -> str:
    # 384 bits of randomness; URL-safe so clients can pass it anywhere.
    return secrets.token_urlsafe(48)


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
