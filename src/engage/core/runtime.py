"""The process-wide objects a request needs, built once by the composition root (`engage.main`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engage.config import Settings

from .clock import Clock
from .ratelimit import Counter
from .security import TokenCodec


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
    # The database login's URL (the schema owner): for the few platform writes a composition root makes as the
    # owner (the demo's sample registry). None when the runtime was built without one (tests).
    database_url: str | None = None
