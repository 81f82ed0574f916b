"""Stream tokens: short-lived JWTs that open one event stream from a browser (`EventSource` cannot send an
`Authorization` header, and an access token in a URL would end up in logs and browser history).

Invariants:
- A stream token opens a stream and nothing else, and an access token never opens a stream from the query string:
  stream tokens are signed with their own key, derived from the JWT secret with a fixed label (an access token's
  signature fails here and a stream token's fails everywhere else), and carry `purpose: events.stream`.
- A stream token stands for the access token it was minted from: it names the same user, tenant and role, and
  carries that token's issue and expiry instants, so the user's standing is checked as for the access token and
  the stream it opens ends when that session would have.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from engage.core.ids import new_id
from engage.core.security import AccessClaims, InvalidToken

PURPOSE = "events.stream"
# Fixed for the life of the format: changing it invalidates the stream tokens in circulation (a minute's worth).
_KEY_LABEL = b"engage/events/stream-tokens/v1"
_REQUIRED = ("sub", "tenant_id", "role", "iat", "exp", "jti", "purpose", "session_iat", "session_exp", "session_jti")


@dataclass(frozen=True, slots=True)
class StreamToken:
    token: str
    expires_at: datetime


class StreamTokens:
    def __init__(self, secret: str, algorithm: str, ttl_seconds: int) -> None:
        # SHA-512: 64 bytes of key, as long as HS512's hash output (RFC 7518 §3.2), so every HS algorithm fits.
        self._key = hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha512).digest()
        self._algorithm = algorithm
        self.ttl_seconds = ttl_seconds

    def issue(self, session: AccessClaims, *, now: datetime) -> StreamToken:
        """A token valid `ttl_seconds` from `now`, never past the session's own expiry."""
        expires_at = min(now + timedelta(seconds=self.ttl_seconds), session.expires_at)
        claims = {
            "sub": str(session.user_id),
            "tenant_id": str(session.tenant_id),
            "role": session.role,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": str(new_id()),
            "purpose": PURPOSE,
            "session_iat": int(session.issued_at.timestamp()),
            "session_exp": int(session.expires_at.timestamp()),
            "session_jti": str(session.token_id),
        }
        token = jwt.encode(claims, self._key, algorithm=self._algorithm)
        # Whole seconds, as the token says.
        return StreamToken(token=token, expires_at=expires_at.replace(microsecond=0))

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        """The session a valid, unexpired stream token stands for; else `InvalidToken`."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                options={"require": list(_REQUIRED), "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if claims["purpose"] != PURPOSE:
            raise InvalidToken("not a stream token")
        # Expiry by the injected clock, as access tokens (`core.security`).
        if _instant(claims, "exp") <= now:
            raise InvalidToken("token expired")
        try:
            return AccessClaims(
                user_id=uuid.UUID(_text(claims, "sub")),
                tenant_id=uuid.UUID(_text(claims, "tenant_id")),
                role=_text(claims, "role"),
                issued_at=_instant(claims, "session_iat"),
                expires_at=_instant(claims, "session_exp"),
                token_id=uuid.UUID(_text(claims, "session_jti")),
            )
        except ValueError as exc:
            raise InvalidToken(str(exc)) from exc


def _instant(claims: dict[str, Any], name: str) -> datetime:
    value = claims[name]
    # We sign only whole seconds within `datetime`'s range; anything else was not made here.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 253_402_300_799:
        raise InvalidToken(f"{name} is not a NumericDate")
    return datetime.fromtimestamp(value, tz=UTC)


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims[name]
    if not isinstance(value, str):
        raise InvalidToken(f"{name} is not a string")
    return value
