"""Pooled connections the server closed are replaced at checkout: a terminated backend (a database restart, an
operator's pg_terminate_backend) costs no request a 500, and no checkout pays a ping round trip for it."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from engage.core.db import create_engine

from ..factories import Factory


async def test_requests_succeed_after_the_server_closed_every_pooled_connection(
    client: httpx.AsyncClient, factory: Factory, owner: asyncpg.Connection, engine: AsyncEngine
) -> None:
    tenant = await factory.tenant()
    admin = await factory.user(tenant)
    headers = factory.headers(admin)
    # Fill the pool with several connections, then have the server end them all.
    assert all(
        r.status_code == 200
        for r in await asyncio.gather(*(client.get("/v1/teams", headers=headers) for _ in range(5)))
    )
    assert engine.pool.checkedin() > 0
    ended = await owner.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'engage' AND pid <> pg_backend_pid()"
    )
    assert ended > 0
    await asyncio.sleep(0.05)  # the event loop reads each closed socket

    for _ in range(8):
        assert (await client.get("/v1/teams", headers=headers)).status_code == 200


async def test_a_checkout_costs_no_round_trip(database_url: str) -> None:
    """What a connection sends when it is checked out again for a statement: the statement, no ping."""
    engine = create_engine(database_url, pool_size=1)
    sent: list[str] = []
    try:
        async with engine.connect() as first:
            raw = await first.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            driver.add_query_logger(lambda record: sent.append(record.query.strip()))
            await first.commit()
        async with engine.connect() as again:  # the same pooled connection (pool of one)
            await again.execute(text("SELECT 3"))
            await again.commit()
    finally:
        await engine.dispose()
    # (asyncpg logs the simple-protocol statements; a pre-ping would add `BEGIN; ;` and `ROLLBACK;` before these.)
    assert sent == ["BEGIN;", "COMMIT;"]


async def test_bursts_past_pool_size_reuse_the_connections_they_opened(database_url: str) -> None:
    """A pool of `pool_size` 1 may open two connections, and keeps both: bursts of two transactions at once run
    on the same two backends each time, not on a new second one per burst (a connection opened past the size
    used to be closed when handed back, so steady load reconnected all the time)."""
    engine = create_engine(database_url, pool_size=1)
    backends: set[int] = set()

    async def hold() -> None:
        async with engine.connect() as connection:
            backends.add(int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()))
            await asyncio.sleep(0.02)  # both checked out at once
            await connection.commit()

    try:
        for _ in range(5):
            await asyncio.gather(hold(), hold())
    finally:
        await engine.dispose()
    assert len(backends) == 2
