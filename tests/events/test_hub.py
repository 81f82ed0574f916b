"""The hub behind every stream of a process: it keeps delivering when its LISTEN connection dies (polling, then a
new connection), and without one at all; it reads only below the horizon; it ends open streams when the server
shuts down, so that shutdown is not held by them."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.outbox import record_event
from engage.core.runtime import Runtime
from engage.events import repository
from engage.events.filters import EventFilter
from engage.events.hub import EventHub
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from .conftest import WAIT_SECONDS, Record, Serve, until


async def _after(sessions: async_sessionmaker[AsyncSession], cursor: repository.Cursor) -> list[uuid.UUID]:
    async with unscoped_transaction(sessions) as session:
        return [row.event_id for row in await repository.after(session, cursor, 10_000)]


class TestListenConnection:
    async def test_the_hub_keeps_delivering_after_its_listen_connection_is_terminated_and_listens_again(
        self, serve: Serve, record: Record, owner: asyncpg.Connection, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        async with serve(poll_seconds=0.2) as live, live.stream(headers=factory.headers(admin)) as sse:
            await until(lambda: live.hub.listener_pid is not None, "the hub to listen")
            killed = live.hub.listener_pid

            assert await owner.fetchval("SELECT pg_terminate_backend($1)", killed)
            during = await record(tenant, "call.initiated")
            [first] = await sse.events(1)
            await until(lambda: live.hub.listener_pid not in (None, killed), "the hub to listen again")
            after = await record(tenant, "call.answered")
            [second] = await sse.events(1)

        assert first.id == str(during.id)
        assert second.id == str(after.id)

    async def test_without_any_listen_connection_the_hub_delivers_by_polling(
        self, runtime: Runtime, record: Record, tenant: Tenant, closed_port: int
    ) -> None:
        hub = EventHub(runtime.sessions, f"postgresql://engage@127.0.0.1:{closed_port}/engage", poll_seconds=0.05)
        async with hub:
            subscription, _ = hub.subscribe(tenant.id, EventFilter())
            recorded = await record(tenant, "dnc.added")

            async with asyncio.timeout(WAIT_SECONDS):
                frame = await subscription.queue.get()

        assert hub.listener_pid is None
        assert frame is not None
        assert f"id: {recorded.id}\n".encode() in frame


class TestHorizon:
    async def test_the_hub_reads_no_event_of_a_transaction_still_open_nor_any_committed_after_it_began(
        self, runtime: Runtime, tenant: Tenant
    ) -> None:
        async with unscoped_transaction(runtime.sessions) as session:
            start = await repository.horizon(session)
        async with tenant_transaction(runtime.sessions, tenant.id) as first:
            early = await record_event(first, tenant.id, "call.initiated", {"n": 1}, clock=runtime.clock)
            await first.flush()
            async with tenant_transaction(runtime.sessions, tenant.id) as second:
                late = await record_event(second, tenant.id, "call.answered", {"n": 2}, clock=runtime.clock)
            while_open = await _after(runtime.sessions, start)
        # Other sessions on the server may hold the horizon back for a moment; it passes both once they end.
        deadline = time.monotonic() + WAIT_SECONDS
        after_commit = await _after(runtime.sessions, start)
        while not {early.id, late.id} <= set(after_commit):
            assert time.monotonic() < deadline, "the horizon never passed the two transactions"
            await asyncio.sleep(0.05)
            after_commit = await _after(runtime.sessions, start)

        assert early.id not in while_open
        assert late.id not in while_open
        mine = [event_id for event_id in after_commit if event_id in (early.id, late.id)]
        assert mine == [early.id, late.id]


class TestShutdown:
    async def test_open_streams_end_once_the_server_starts_shutting_down(
        self, serve: Serve, admin: User, factory: Factory
    ) -> None:
        exiting = False
        async with serve(exiting=lambda: exiting, poll_seconds=0.05) as live:
            async with live.stream(headers=factory.headers(admin)) as sse:
                exiting = True
                ended = await sse.until_end()
            async with live.client() as client:
                refused = await client.get("/v1/events/stream", headers=factory.headers(admin))

        assert all(message.event is None for message in ended)
        assert refused.status_code == 503
