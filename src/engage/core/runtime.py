"""The process-wide objects a request needs, built once by the composition root (`engage.main`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engage.config import Settings

from .clock import Clock
from .ratelimit import Counter
from .security import AccessClaims, TokenCodec


class AccessCheck(Protocol):
    """Whether a verified access token's user still stands as it says (active, same role, sessions not revoked
    since it was issued): the users domain implements it; `forget` drops what a process cached about a user."""

    async def __call__(self, claims: AccessClaims) -> bool: ...

    def forget(self, user_id: uuid.UUID) -> None: ...


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    counter: Counter
    tokens: TokenCodec
    clock: Clock
    # The tenant's requests-per-minute allowance (its override, else the default); cached by the caller.
    tenant_rate_limit: Callable[[uuid.UUID], Awaitable[int]]
    access: AccessCheck
    # The database login's URL (the schema owner): for the few platform writes a composition root makes as the
    # owner (the demo's sample registry). None when the runtime was built without one (tests).
    database_url: str | None = None
