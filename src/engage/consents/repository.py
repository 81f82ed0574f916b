"""Every query on `consents`, inside a tenant-scoped transaction (row-level security keeps each tenant to its
own records). `for_phones` is the compliance engine's read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, String, and_, any_, exists, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from engage.core.pagination import PageParams, PageResult, paginate

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


async def for_phones(session: AsyncSession, phones: Sequence[str]) -> dict[str, list[Consent]]:
    """All of the tenant's consent records for these E.164 numbers, newest granted first per number; every
    number asked about is a key (an empty list: no record).

    One statement, `phone = ANY(:phones)`: one array parameter however many numbers a dialer tick checks, served
    by the (tenant_id, phone) index.
    """
    wanted = list(dict.fromkeys(phones))
    found: dict[str, list[Consent]] = {phone: [] for phone in wanted}
    if not wanted:
        return found
    query = (
        select(Consent)
        .where(Consent.phone == any_(literal(wanted, ARRAY(String))))
        .order_by(Consent.granted_at.desc(), Consent.id.desc())
    )
    for consent in (await session.scalars(query)).all():
        found[consent.phone].append(consent)
    return found
