"""Every query on `dnc_entries`, inside a tenant-scoped transaction (row-level security keeps each tenant to
its own list)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, String, any_, delete, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Bundle

from engage.core.pagination import PageParams, PageResult, paginate
from engage.core.sql import Fact, strings
from engage.users import service as users

from .models import DncEntry


@dataclass(frozen=True, slots=True)
class DncListing:
    """One entry as the list shows it: `added_by` is the adding user's full name."""

    id: uuid.UUID
    phone: str
    source: str
    reason: str | None
    added_by: str | None
    added_at: datetime


@dataclass(frozen=True, slots=True)
class ListedNumber:
    """A number one insert put on the list."""

    id: uuid.UUID
    phone: str


class _ListingBundle(Bundle[DncListing]):
    """Entry columns and the user's name as one `DncListing` per row, so the shared `paginate` (which reads
    the first column of each row) pages a join."""

    def create_row_processor(
        self,
        query: Any,
        procs: Sequence[Callable[[Row[Any]], Any]],
        labels: Sequence[str],
    ) -> Callable[[Row[Any]], DncListing]:
        def proc(row: Row[Any]) -> DncListing:
            return DncListing(*(column(row) for column in procs))

        return proc


# The users' names, as the users domain publishes them for a join (one statement per page).
_PEOPLE = users.people()

_LISTING = _ListingBundle(
    "dnc_listing",
    DncEntry.id,
    DncEntry.phone,
    DncEntry.source,
    DncEntry.reason,
    _PEOPLE.c.full_name.label("added_by"),
    DncEntry.added_at,
)


async def list_entries(
    session: AsyncSession, params: PageParams, *, phone: str | None = None
) -> PageResult[DncListing]:
    # Outer join: `added_by` is null for entries no user added, or whose user is gone (ON DELETE SET NULL).
    query = select(_LISTING).select_from(DncEntry).outerjoin(_PEOPLE, _PEOPLE.c.id == DncEntry.added_by)
    if phone is not None:
        query = query.where(DncEntry.phone == phone)
    return await paginate(session, query, DncEntry.id, params)


async def insert_new(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    entries: Sequence[tuple[uuid.UUID, str]],
    *,
    source: str,
    reason: str | None,
    added_by: uuid.UUID | None,
    added_at: datetime,
) -> list[ListedNumber]:
    """Insert (id, phone) pairs not yet listed, in one statement; return those it inserted.

    One INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING: two array parameters whatever the batch size
    (a VALUES list of 5,000 rows would need 35,000, above PostgreSQL's 32,767 bind parameters), a race with
    a concurrent insert of the same number is a skip rather than an error, and the statement trigger
    `dnc_entries_mark_contacts` marks the numbers' pending and dialing contacts `dnc` in this same statement.
    """
    if not entries:
        return []
    rows = (
        func.unnest(
            literal([entry_id for entry_id, _ in entries], ARRAY(UUID(as_uuid=True))),
            literal([phone for _, phone in entries], ARRAY(String)),
        )
        .table_valued("id", "phone")
        .render_derived(name="new_entries")
    )
    statement = (
        insert(DncEntry)
        .from_select(
            ["id", "tenant_id", "phone", "source", "reason", "added_by", "added_at"],
            select(
                rows.c.id,
                literal(tenant_id, UUID(as_uuid=True)),
                rows.c.phone,
                literal(source, String),
                literal(reason, String),
                literal(added_by, UUID(as_uuid=True)),
                literal(added_at, DncEntry.__table__.c.added_at.type),
            ),
        )
        .on_conflict_do_nothing(index_elements=[DncEntry.tenant_id, DncEntry.phone])
        .returning(DncEntry.id, DncEntry.phone)
    )
    result = await session.execute(statement)
    return [ListedNumber(id=row.id, phone=row.phone) for row in result]


async def delete_entry(session: AsyncSession, entry_id: uuid.UUID) -> tuple[uuid.UUID, str, str] | None:
    """Remove the entry and return its tenant, number and source; None if this tenant has no such entry
    (another tenant's is invisible here)."""
    deleted = (
        await session.execute(
            delete(DncEntry)
            .where(DncEntry.id == entry_id)
            .returning(DncEntry.tenant_id, DncEntry.phone, DncEntry.source)
        )
    ).one_or_none()
    return None if deleted is None else (deleted[0], deleted[1], deleted[2])


def listed(phones: ColumnElement[list[str]]) -> Fact[set[str]]:
    """Which of the E.164 numbers in the array `phones` are on the tenant's list (one index probe each)."""
    return Fact(select(func.array_agg(DncEntry.phone)).where(DncEntry.phone == any_(phones)).scalar_subquery(), strings)
