"""A list bound into a statement is one array (`core.sql.among`): the statement's text, and so what asyncpg
prepares and keeps on each pooled connection, is the same whatever the list's length. With an expanding `IN`, a
worker asking each tick which of its live calls has a hang-up request prepared a new statement for every number
of live calls, on every connection, and grew by megabytes a minute in `engage bench soak`."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.db import create_engine, tenant_transaction
from engage.core.ids import new_id
from engage.core.sql import among
from engage.dialer import repository as dialer_repository
from engage.users.models import User

from ..factories import Factory

# (This statement, prepared too, names the column in its pattern: it does not count itself.)
PREPARED_FOR_HANGUPS = (
    "SELECT count(*) FROM pg_prepared_statements"
    " WHERE statement LIKE '%hangup_requested_at%' AND statement NOT LIKE '%pg_prepared_statements%'"
)


async def test_a_list_of_any_length_is_prepared_once(database_url: str, factory: Factory) -> None:
    tenant = await factory.tenant()
    engine = create_engine(database_url, pool_size=1)  # used one statement at a time: one pooled connection
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    try:
        for length in range(1, 13):
            async with tenant_transaction(sessions, tenant.id) as session:
                assert await dialer_repository.hangup_requests(session, [new_id() for _ in range(length)]) == []
        async with tenant_transaction(sessions, tenant.id) as session:
            prepared = await session.scalar(text(PREPARED_FOR_HANGUPS))
            connections = engine.pool.checkedout() + engine.pool.checkedin()
    finally:
        await engine.dispose()
    assert connections == 1
    assert prepared == 1


async def test_among_finds_exactly_the_listed_rows(database_url: str, factory: Factory) -> None:
    tenant = await factory.tenant()
    users = [await factory.user(tenant) for _ in range(3)]
    engine = create_engine(database_url, pool_size=1)
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    wanted: list[uuid.UUID] = [users[0].id, users[2].id, new_id()]
    try:
        async with tenant_transaction(sessions, tenant.id) as session:
            found = set((await session.scalars(select(User.id).where(among(User.id, wanted)))).all())
            none = (await session.scalars(select(User.id).where(among(User.id, [])))).all()
    finally:
        await engine.dispose()
    assert found == {users[0].id, users[2].id}
    assert none == []
