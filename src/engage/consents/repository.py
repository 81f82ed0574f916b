"""Every query on `consents`, inside a tenant-scoped transaction (row-level security keeps each tenant to its
own records). `held` is the compliance engine's fact."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, any_, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from engage.core.pagination import PageParams, PageResult, paginate
from engage.core.sql import Fact, grouped

from .models import Consent
from .schemas import ConsentScope


async def add(session: AsyncSession, consent: Consent) -> Consent:
    session.add(consent)
    await session.flush()
    return consent


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def get(session: AsyncSession, consent_id: uuid.UUID, *, for_update: bool = False) -> Consent | None:
    """The tenant's record (RLS hides every other tenant's). `for_update`: lock it until the transaction ends,
    so two concurrent withdrawals apply one after the other and the second sees the first."""
    query = select(Consent).where(Consent.id == consent_id)
    if for_update:
        query = query.with_for_update()
    # populate_existing: a row already in the session is refreshed from the (locked) read, not served stale.
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


def _in_effect(at: datetime) -> ColumnElement[bool]:
    """The record grants its whole scope at `at`: granted, not expired, not withdrawn, and not ended by a
    withdrawal at or before `at` of another record for the number with the same scope or `all` (the rule
    `service.covering` applies per scope)."""
    withdrawal = aliased(Consent)
    ended = exists().where(
        withdrawal.phone == Consent.phone,
        or_(withdrawal.scope == Consent.scope, withdrawal.scope == ConsentScope.all.value),
        withdrawal.withdrawn_at <= at,
        withdrawal.withdrawn_at >= Consent.granted_at,
    )
    return and_(
        Consent.granted_at <= at,
        or_(Consent.expires_at.is_(None), Consent.expires_at > at),
        or_(Consent.withdrawn_at.is_(None), Consent.withdrawn_at > at),
        ~ended,
    )


async def list_consents(
    session: AsyncSession, params: PageParams, *, phone: str | None = None, active_at: datetime | None = None
) -> PageResult[Consent]:
    """Newest recorded first. `active_at`: only records in effect at that instant."""
    query = select(Consent)
    if phone is not None:
        query = query.where(Consent.phone == phone)
    if active_at is not None:
        query = query.where(_in_effect(active_at))
    return await paginate(session, query, Consent.id, params)


@dataclass(frozen=True, slots=True)
class Terms:
    """What `service.covering` reads of a record."""

    id: uuid.UUID
    scope: str
    granted_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None


def held(phones: ColumnElement[list[str]]) -> Fact[dict[str, list[Terms]]]:
    """The terms of every record of the tenant for the E.164 numbers in the array `phones`, by number (a number
    without records is absent). Served by the (tenant_id, phone) index, one probe a number."""
    terms = tuple_(
        Consent.phone, Consent.id, Consent.scope, Consent.granted_at, Consent.expires_at, Consent.withdrawn_at
    )
    return Fact(select(func.array_agg(terms)).where(Consent.phone == any_(phones)).scalar_subquery(), grouped(Terms))
