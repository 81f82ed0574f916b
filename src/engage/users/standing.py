"""Whether an access token's user still stands as the token says: active, in the role it names, and with no
revocation of their sessions since it was issued (a password change or a deactivation sets `sessions_revoked_at`).

An access token is a signed statement that lives for up to `ENGAGE_JWT_ACCESS_TTL_SECONDS`; this is what makes it
stop working at once when the facts behind it change. Checked on every authenticated request, so each user's
standing is cached per process for `STANDING_TTL_SECONDS`: the process that makes a change forgets the entry when
the change commits (effective on the next request), and every other API process sees it within the TTL (the
bounded staleness). A token issued in the same second as a revocation is honoured (`iat` has whole seconds), but
a deactivation or a role change is caught by the flag and the role themselves.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.db import tenant_transaction
from engage.core.security import AccessClaims

from . import repository

STANDING_TTL_SECONDS = 2.0
# Bounds memory with many users: past this many entries, expired ones are dropped (and if all are live, all).
_MAX_ENTRIES = 100_000

_Facts = tuple[bool, str, datetime] | None


class StandingCache:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_seconds: float = STANDING_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._cache: dict[uuid.UUID, tuple[_Facts, float]] = {}

    async def __call__(self, claims: AccessClaims) -> bool:
        """True if the token's user is active, has the token's role and had no sessions revoked since `iat`."""
        now = self._monotonic()
        cached = self._cache.get(claims.user_id)
        if cached is not None and cached[1] > now:
            facts = cached[0]
        else:
            async with tenant_transaction(self._sessions, claims.tenant_id) as session:
                facts = await repository.standing(session, claims.user_id)
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
                if len(self._cache) >= _MAX_ENTRIES:
                    self._cache.clear()
            self._cache[claims.user_id] = (facts, now + self._ttl)
        if facts is None:
            return False
        active, role, revoked_at = facts
        return active and role == claims.role and claims.issued_at >= revoked_at.replace(microsecond=0)

    def forget(self, user_id: uuid.UUID) -> None:
        self._cache.pop(user_id, None)
