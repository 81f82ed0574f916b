"""Password hashing (argon2id), access tokens (JWT) and opaque refresh tokens.

Invariants: only the configured JWT algorithm is accepted (so `alg: none` and algorithm confusion fail);
refresh tokens are random and stored only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .ids import new_id

# argon2-cffi's defaults follow RFC 9106's second recommended option (64 MiB, t=3, p=4).
_hasher = PasswordHasher()
# Verified against when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

REQUIRED_CLAIMS = ("sub", "tenant_id", "role", "exp", "iat", "jti")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
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


class InvalidToken(Exception):
    """The token is malformed, forged, expired or signed with another algorithm."""


class TokenCodec:
    def __init__(self, secret: str, algorithm: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self.ttl_seconds = ttl_seconds

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
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_iat": False},
            )
            # Expiry is checked against the injected clock, not the wall clock, so the simulator's
            # shifted time and tests agree with what tokens say.
            expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
            issued_at = datetime.fromtimestamp(int(claims["iat"]), tz=now.tzinfo)
            if expires_at <= now:
                raise InvalidToken("token expired")
            return AccessClaims(
                user_id=uuid.UUID(str(claims["sub"])),
                tenant_id=uuid.UUID(str(claims["tenant_id"])),
                role=str(claims["role"]),
                issued_at=issued_at,
                expires_at=expires_at,
                token_id=uuid.UUID(str(claims["jti"])),
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(str(exc)) from exc


def new_refresh_token() -> str:
    # 384 bits of randomness; URL-safe so clients can pass it anywhere.
    return secrets.token_urlsafe(48)


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
