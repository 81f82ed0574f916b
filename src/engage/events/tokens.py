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
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from engage.core.ids import new_id
from engage.core.security import AccessClaims, InvalidToken, access_claims, decode_claims, numeric_date

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
        claims = decode_claims(token, self._key, self._algorithm, _REQUIRED)
        if claims["purpose"] != PURPOSE:
            raise InvalidToken("not a stream token")
        # Expiry by the injected clock, as access tokens (`core.security`).
        if numeric_date(claims, "exp") <= now:
            raise InvalidToken("token expired")
        return access_claims(claims, iat="session_iat", exp="session_exp", jti="session_jti")
