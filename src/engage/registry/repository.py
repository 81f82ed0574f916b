"""Every query on `registry_numbers` and `registry_loads`.

Reads go through the app's session (role `engage_app`, which may only `SELECT` these tables; they have no
tenant column and no row-level security, so a tenant-scoped session reads them whole). Writes go through an
asyncpg connection as the database owner, the one login allowed to change them: numbers are staged with
`COPY` into a temporary table, then applied by a few statements inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from sqlalchemy import ColumnElement, and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.db import asyncpg_url
from engage.core.sql import Fact, strings

from .models import RegistryLoad, RegistryNumber

# Per statement, on the owner's connection. A whole replace of 10,000,000 numbers took 106 s on a two-core
# test machine; a statement still running after 30 minutes is stuck (or waits on a lock), not slow.
_OWNER_STATEMENT_TIMEOUT_MS = 30 * 60 * 1000


async def loaded(session: AsyncSession) -> dict[str, RegistryLoad]:
    """The last load of every registry ever loaded, by jurisdiction (in jurisdiction order)."""
    loads = await session.scalars(select(RegistryLoad).order_by(RegistryLoad.jurisdiction))
    return {load.jurisdiction: load for load in loads}


def _pairs(value: Sequence[tuple[str, str]] | None) -> set[tuple[str, str]]:
    return {(jurisdiction, phone) for jurisdiction, phone in value} if value is not None else set()


def listed(jurisdictions: ColumnElement[list[str]], phones: ColumnElement[list[str]]) -> Fact[set[tuple[str, str]]]:
    """Which of the (jurisdiction, E.164 phone) pairs, given as two arrays of the same length, are on their
    jurisdiction's registry. The arrays are unnested side by side and joined to the primary key: each pair is
    one index probe, whatever the batch."""
    asked = func.unnest(jurisdictions, phones).table_valued("jurisdiction", "phone").render_derived(name="asked")
    found = select(func.array_agg(tuple_(RegistryNumber.jurisdiction, RegistryNumber.phone))).join(
        asked, and_(RegistryNumber.jurisdiction == asked.c.jurisdiction, RegistryNumber.phone == asked.c.phone)
    )
    return Fact(found.scalar_subquery(), _pairs)


def loaded_jurisdictions() -> Fact[set[str]]:
    """The jurisdictions whose registry was ever loaded."""
    return Fact(select(func.array_agg(RegistryLoad.jurisdiction)).scalar_subquery(), strings)


@asynccontextmanager
async def owner_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the login in `database_url` itself (the schema owner), not as `engage_app`."""
    dsn = asyncpg_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(
        dsn,
        timeout=10,
        server_settings={
            "timezone": "UTC",
            "application_name": "engage-registry-import",
            "statement_timeout": str(_OWNER_STATEMENT_TIMEOUT_MS),
        },
    )
    try:
        yield connection
    finally:
        await connection.close()


async def create_staging(owner: asyncpg.Connection) -> None:
    """A temporary table for the numbers of one import; dropped with the transaction that made it."""
    await owner.execute("CREATE TEMP TABLE registry_staging (phone text NOT NULL) ON COMMIT DROP")


async def stage(owner: asyncpg.Connection, phones: Iterable[str]) -> None:
    await owner.copy_records_to_table("registry_staging", records=((phone,) for phone in phones), columns=["phone"])


@dataclass(frozen=True, slots=True)
class Applied:
    """`added`: numbers the load put on the registry; `total`: the registry's size after it."""

    added: int
    total: int


async def apply_staged(
    owner: asyncpg.Connection,
    jurisdiction: str,
    *,
    replace: bool,
    mode: str,
    source: str,
    loaded_at: datetime,
) -> Applied:
    """Put the staged numbers on `jurisdiction`'s registry (after emptying it, if `replace`) and record the
    load. Inside the caller's transaction: readers see the registry before or after, never in between."""
    # Two imports of one jurisdiction take turns, so each counts the registry its own load produced.
    await owner.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"engage.registry:{jurisdiction}")
    if replace:
        await owner.execute("DELETE FROM registry_numbers WHERE jurisdiction = $1", jurisdiction)
    # In key order: the primary-key index is then written page after page, not at random pages.
    status = await owner.execute(
        "INSERT INTO registry_numbers (jurisdiction, phone) "
        "SELECT DISTINCT $1::varchar, phone FROM registry_staging ORDER BY phone ON CONFLICT DO NOTHING",
        jurisdiction,
    )
    added = int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"
    total: int = await owner.fetchval("SELECT count(*) FROM registry_numbers WHERE jurisdiction = $1", jurisdiction)
    await owner.execute(
        "INSERT INTO registry_loads (jurisdiction, loaded_at, count, mode, source) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (jurisdiction) DO UPDATE SET loaded_at = excluded.loaded_at, count = excluded.count, "
        "mode = excluded.mode, source = excluded.source",
        jurisdiction,
        loaded_at,
        total,
        mode,
        source,
    )
    return Applied(added=added, total=total)
