"""Queries on `tenants`. A transaction sees at most its own tenant row (RLS)."""

from __future__ import annotations

import uuid

from sqlalchemy import Uuid, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.db import scope_to_tenant
from engage.core.sql import Compiled, Reads

from .models import Tenant


async def get(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


_PLACE = Compiled(select(Tenant.country, Tenant.timezone).where(Tenant.id == bindparam("tenant_id", type_=Uuid)))


async def place(db: Reads, tenant_id: uuid.UUID) -> tuple[str, str] | None:
    """The tenant's ISO 3166-1 country and IANA zone; None if this transaction cannot see the tenant."""
    row = await _PLACE.fetchrow(db, tenant_id=tenant_id)
    return (row[0], row[1]) if row is not None else None


async def add(session: AsyncSession, tenant: Tenant) -> Tenant:
    # The insert must pass the policy's WITH CHECK, so the transaction is scoped to the new tenant first.
    await scope_to_tenant(session, tenant.id)
    session.add(tenant)
    await session.flush()
    return tenant


async def rate_limit_of(session: AsyncSession, tenant_id: uuid.UUID) -> int | None:
    limit: int | None = await session.scalar(select(Tenant.rate_limit_per_minute).where(Tenant.id == tenant_id))
    return limit
