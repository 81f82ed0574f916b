"""Tenant use cases: creation (command line), the tenant's country (the region local phone numbers are read in)
and the cached rate-limit allowance the edge reads."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.clock import Clock
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.sql import Reads

from . import repository
from .errors import InvalidTenantSettings
from .models import Tenant

# ISO 3166-1 alpha-2 codes are two upper-case letters; validity beyond that is the numbering plan's job.
_COUNTRY_LENGTH = 2


# A tenant's country and zone are set when it is created and no command or endpoint changes them: each process
# reads them once per tenant. Bounded, in case a process outlives very many tenants.
_PLACES: dict[uuid.UUID, tuple[str, str]] = {}
_PLACES_KEPT = 10_000


async def _place(db: Reads, tenant_id: uuid.UUID) -> tuple[str, str]:
    found = _PLACES.get(tenant_id)
    if found is None:
        found = await repository.place(db, tenant_id)
        if found is None:
            # The token named a tenant this transaction cannot see: only possible if it was deleted meanwhile.
            raise LookupError(f"tenant {tenant_id} is not visible to its own transaction")
        if len(_PLACES) >= _PLACES_KEPT:
            _PLACES.clear()
        _PLACES[tenant_id] = found
    return found


async def country(db: Reads, tenant_id: uuid.UUID) -> str:
    """The tenant's ISO 3166-1 country: where a number typed in local format is read (DESIGN.md §3)."""
    return (await _place(db, tenant_id))[0]


async def timezone(db: Reads, tenant_id: uuid.UUID) -> str:
    """The tenant's IANA zone, where its "today" is."""
    return (await _place(db, tenant_id))[1]


async def create(
    session: AsyncSession,
    *,
    name: str,
    timezone: str,
    country: str,
    rate_limit_per_minute: int,
    clock: Clock,
) -> Tenant:
    if not name.strip():
        raise InvalidTenantSettings("name must not be empty.")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidTenantSettings(f"{timezone!r} is not an IANA time zone.") from exc
    if len(country) != _COUNTRY_LENGTH or not country.isalpha():
        raise InvalidTenantSettings(f"{country!r} is not an ISO 3166-1 alpha-2 country code.")
    if rate_limit_per_minute < 1:
        raise InvalidTenantSettings("rate_limit_per_minute must be positive.")
    now = clock.now()
    tenant = Tenant(
        id=new_id(),
        name=name.strip(),
        timezone=timezone,
        country=country.upper(),
        rate_limit_per_minute=rate_limit_per_minute,
        created_at=now,
        updated_at=now,
    )
    return await repository.add(session, tenant)


class RateLimitCache:
    """Each tenant's allowance, re-read at most every `ttl_seconds` so an override applies within that
    time without a query on every request."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        default_per_minute: int,
        ttl_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._default = default_per_minute
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._cache: dict[uuid.UUID, tuple[int, float]] = {}

    async def __call__(self, tenant_id: uuid.UUID) -> int:
        now = self._monotonic()
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with tenant_transaction(self._sessions, tenant_id) as session:
            limit = await repository.rate_limit_of(session, tenant_id)
        value = limit if limit is not None else self._default
        self._cache[tenant_id] = (value, now + self._ttl)
        return value
