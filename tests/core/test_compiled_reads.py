"""Compiled reads (`core.sql`) and the direct transactions they run in (`core.db.tenant_reads`, and
`tenant_writes` for compiled writes): parameters by name, row-level security as for any statement, nothing written
by a read or by a write whose block fails, and a pooled connection that stays usable."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy import Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engage.campaigns.models import Campaign
from engage.core.db import create_engine, tenant_reads, tenant_transaction, tenant_writes
from engage.core.sql import Compiled, for_body

from ..factories import Factory

_NAMED = Compiled(
    select(
        *for_body(Campaign.id), Campaign.name, func.coalesce(Campaign.abandon_message, "none").label("message")
    ).where(Campaign.id == bindparam("campaign_id", type_=Uuid))
)
_ALL = Compiled(select(Campaign.id).order_by(Campaign.id))


async def test_a_compiled_read_takes_its_parameters_by_name_and_keeps_the_values_it_fixed(
    factory: Factory, engine: AsyncEngine
) -> None:
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant, name="Renewals")
    async with tenant_reads(engine, tenant.id) as db:
        row = await _NAMED.fetchrow(db, campaign_id=campaign_id)
    assert row is not None
    # The UUID column comes back as text (what the body writes), under its own name.
    assert (row["id"], row["name"], row["message"]) == (str(campaign_id), "Renewals", "none")


def test_a_compiled_read_refuses_to_run_without_a_parameter_it_needs() -> None:
    with pytest.raises(KeyError, match="campaign_id"):
        _NAMED.arguments({})


async def test_a_compiled_read_sees_only_the_scoped_tenant(factory: Factory, engine: AsyncEngine) -> None:
    ours, theirs = await factory.tenant(name="Ours"), await factory.tenant(name="Theirs")
    mine = await factory.campaign(ours)
    other = await factory.campaign(theirs)
    async with tenant_reads(engine, ours.id) as db:
        seen = {row["id"] for row in await _ALL.fetch(db)}
        assert await _NAMED.fetchrow(db, campaign_id=other) is None
    assert seen == {mine}


async def test_a_compiled_read_runs_in_a_session_on_its_transaction(
    factory: Factory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    async with tenant_transaction(sessions, tenant.id) as session:
        assert [row["id"] for row in await _ALL.fetch(session)] == [campaign_id]


async def test_a_read_transaction_refuses_writes_and_its_connection_goes_back_usable(
    factory: Factory, database_url: str
) -> None:
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant, name="Before")
    engine = create_engine(database_url, pool_size=1)  # one connection: the second block reuses the first's
    try:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            async with tenant_reads(engine, tenant.id) as db:
                await db.execute("UPDATE campaigns SET name = 'After' WHERE id = $1", campaign_id)
        async with tenant_reads(engine, tenant.id) as db:
            row = await _NAMED.fetchrow(db, campaign_id=campaign_id)
            in_transaction = db.is_in_transaction()
        assert row is not None
        assert row["name"] == "Before"
        assert in_transaction
        assert engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


async def test_a_read_transaction_ends_when_its_block_fails(factory: Factory, database_url: str) -> None:
    tenant = await factory.tenant()
    engine = create_engine(database_url, pool_size=1)
    try:
        with pytest.raises(LookupError):
            await _fail_inside(engine, tenant.id)
        async with tenant_reads(engine, tenant.id) as db:
            scope = await db.fetchval("SELECT current_setting('app.tenant_id', true)")
        assert uuid.UUID(scope) == tenant.id
    finally:
        await engine.dispose()


async def _fail_inside(engine: AsyncEngine, tenant_id: uuid.UUID) -> None:
    async with tenant_reads(engine, tenant_id) as db:
        await _ALL.fetch(db)
        raise LookupError("the route's own failure")


class TestWriteTransaction:
    async def test_a_write_is_committed_when_its_block_ends(self, factory: Factory, engine: AsyncEngine) -> None:
        tenant = await factory.tenant()
        campaign_id = await factory.campaign(tenant, name="Before")
        async with tenant_writes(engine, tenant.id) as db:
            await db.execute("UPDATE campaigns SET name = 'After' WHERE id = $1", campaign_id)
        async with tenant_reads(engine, tenant.id) as db:
            row = await _NAMED.fetchrow(db, campaign_id=campaign_id)
        assert row is not None
        assert row["name"] == "After"

    async def test_a_write_is_undone_when_its_block_fails(self, factory: Factory, database_url: str) -> None:
        tenant = await factory.tenant()
        campaign_id = await factory.campaign(tenant, name="Before")
        engine = create_engine(database_url, pool_size=1)
        try:
            with pytest.raises(LookupError):
                await _rename_then_fail(engine, tenant.id, campaign_id)
            async with tenant_reads(engine, tenant.id) as db:
                row = await _NAMED.fetchrow(db, campaign_id=campaign_id)
            assert row is not None
            assert row["name"] == "Before"
            assert engine.pool.checkedout() == 0
        finally:
            await engine.dispose()

    async def test_a_write_reaches_only_the_scoped_tenant(self, factory: Factory, engine: AsyncEngine) -> None:
        ours, theirs = await factory.tenant(name="Ours"), await factory.tenant(name="Theirs")
        other = await factory.campaign(theirs, name="Theirs")
        async with tenant_writes(engine, ours.id) as db:
            status = await db.execute("UPDATE campaigns SET name = 'Taken' WHERE id = $1", other)
        assert status == "UPDATE 0"
        async with tenant_reads(engine, theirs.id) as db:
            row = await _NAMED.fetchrow(db, campaign_id=other)
        assert row is not None
        assert row["name"] == "Theirs"


async def _rename_then_fail(engine: AsyncEngine, tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> None:
    async with tenant_writes(engine, tenant_id) as db:
        await db.execute("UPDATE campaigns SET name = 'After' WHERE id = $1", campaign_id)
        raise LookupError("the route's own failure")
