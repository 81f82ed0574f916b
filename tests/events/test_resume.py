"""Exactly once, in order, resumable: a client that reconnects with the last id it saw receives exactly what it
missed, then the live events, with nothing twice; a transaction that wrote its event first but committed last is
neither lost nor reordered; a client too slow for its queue is cut off and resumes losslessly."""

from __future__ import annotations

import asyncio
import uuid

from engage.core.db import tenant_transaction
from engage.core.outbox import record_event
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from .conftest import Record, Serve


async def _record_many(runtime: Runtime, tenant: Tenant, count: int, event_type: str = "call.initiated") -> list[str]:
    """`count` events committed in one transaction; their ids in write order."""
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        events = [
            await record_event(session, tenant.id, event_type, {"n": n}, clock=runtime.clock) for n in range(count)
        ]
    return [str(event.id) for event in events]


class TestResume:
    async def test_last_event_id_header_resumes_with_exactly_the_missed_events_then_live_ones(
        self, serve: Serve, record: Record, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        headers = factory.headers(admin)
        async with serve() as live:
            async with live.stream(headers=headers) as sse:
                seen = await record(tenant, "call.initiated")
                await sse.events(1)
            missed = [await record(tenant, "call.answered", {"n": n}) for n in range(3)]

            async with live.stream(headers={**headers, "Last-Event-ID": str(seen.id)}) as sse:
                replayed = await sse.events(3)
                after = await record(tenant, "call.completed")
                [live_one] = await sse.events(1)

        assert [m.id for m in replayed] == [str(r.id) for r in missed]
        assert live_one.id == str(after.id)

    async def test_the_last_event_id_parameter_resumes_like_the_header(
        self, serve: Serve, record: Record, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        seen = await record(tenant, "call.initiated")
        missed = [await record(tenant, "call.answered", {"n": n}) for n in range(2)]
        params = {"last_event_id": str(seen.id)}
        async with serve() as live, live.stream(headers=factory.headers(admin), params=params) as sse:
            replayed = await sse.events(2)
            after = await record(tenant, "call.completed")
            [live_one] = await sse.events(1)

        assert [m.id for m in replayed] == [str(r.id) for r in missed]
        assert live_one.id == str(after.id)

    async def test_the_header_wins_over_the_parameter_as_a_reconnecting_event_source_sends_both(
        self, serve: Serve, record: Record, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        older = await record(tenant, "call.initiated")
        newer = await record(tenant, "call.answered")
        missed = await record(tenant, "call.completed")
        headers = {**factory.headers(admin), "Last-Event-ID": str(newer.id)}
        async with serve() as live, live.stream(headers=headers, params={"last_event_id": str(older.id)}) as sse:
            [first] = await sse.events(1)

        assert first.id == str(missed.id)

    async def test_a_resume_across_several_replay_pages_is_complete_and_in_order(
        self, serve: Serve, record: Record, runtime: Runtime, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        seen = await record(tenant, "call.initiated")
        missed = await _record_many(runtime, tenant, 1_203)
        headers = {**factory.headers(admin), "Last-Event-ID": str(seen.id)}
        async with serve() as live, live.stream(headers=headers) as sse:
            replayed = await sse.events(len(missed))
            after = await record(tenant, "call.completed")
            [live_one] = await sse.events(1)

        assert [m.id for m in replayed] == missed
        assert live_one.id == str(after.id)

    async def test_a_replay_applies_the_agent_and_types_filters_as_live_delivery_does(
        self, serve: Serve, record: Record, tenant: Tenant, factory: Factory
    ) -> None:
        agent = await factory.user(tenant, Role.agent)
        mine = {"agent_id": str(agent.id)}
        seen = await record(tenant, "call.initiated", mine)
        await record(tenant, "call.answered", {"agent_id": str(uuid.uuid4())})
        await record(tenant, "agent.state_changed", mine)
        wanted = await record(tenant, "call.completed", mine)
        await record(tenant, "dnc.added")
        headers = {**factory.headers(agent), "Last-Event-ID": str(seen.id)}
        async with serve() as live, live.stream(headers=headers, params={"types": "call.*"}) as sse:
            [replayed] = await sse.events(1)
            after = await record(tenant, "call.completed", mine)
            [live_one] = await sse.events(1)

        assert replayed.id == str(wanted.id)
        assert live_one.id == str(after.id)

    async def test_events_committed_while_a_resuming_stream_opens_arrive_once_each_in_order(
        self, serve: Serve, record: Record, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        """The seam between replay and live: writers keep committing while the stream registers and replays."""
        seen = await record(tenant, "call.initiated")
        written: list[str] = []

        async def write(count: int) -> None:
            for n in range(count):
                written.append(str((await record(tenant, "call.answered", {"n": n})).id))

        headers = {**factory.headers(admin), "Last-Event-ID": str(seen.id)}
        async with serve() as live:
            writer = asyncio.create_task(write(60))
            await asyncio.sleep(0)  # let the writer start before the stream opens
            async with live.stream(headers=headers) as sse:
                await writer
                messages = await sse.events(len(written))
                marker = await record(tenant, "call.completed")
                [last] = await sse.events(1)

        assert [m.id for m in messages] == written
        assert last.id == str(marker.id)


class TestCommitOrder:
    async def test_an_event_whose_transaction_commits_late_is_delivered_and_the_later_one_waits_for_it(
        self, serve: Serve, runtime: Runtime, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        """Transaction 1 records its event first (a smaller id) but commits after transaction 2: a stream
        ordered by id alone would send 2's event and then skip 1's for good."""
        async with serve() as live, live.stream(headers=factory.headers(admin)) as sse:
            async with tenant_transaction(runtime.sessions, tenant.id) as first:
                early = await record_event(first, tenant.id, "call.initiated", {"n": 1}, clock=runtime.clock)
                await first.flush()
                async with tenant_transaction(runtime.sessions, tenant.id) as second:
                    late = await record_event(second, tenant.id, "call.answered", {"n": 2}, clock=runtime.clock)
                # 2 is committed; 1 is still open, so 2's event is not final yet and must not be sent.
                try:
                    held_back = await sse.events(1, seconds=1.0)
                except TimeoutError:
                    held_back = []
            messages = await sse.events(2)
            # A marker written now is the next event: nothing was sent twice.
            marker = await _record_many(runtime, tenant, 1, "call.completed")
            [next_one] = await sse.events(1)

        assert held_back == []
        assert early.id < late.id
        assert [m.id for m in messages] == [str(early.id), str(late.id)]
        assert [next_one.id] == marker


class TestSlowClients:
    async def test_a_client_whose_queue_overflows_is_closed_and_resumes_without_a_gap(
        self, serve: Serve, record: Record, runtime: Runtime, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        headers = factory.headers(admin)
        async with serve(queue_size=2) as live:
            async with live.stream(headers=headers) as sse:
                # One commit of 20 events reaches the hub in one read, faster than any client drains a queue of 2.
                written = await _record_many(runtime, tenant, 20)
                before_close = [m for m in await sse.until_end() if m.event is not None]
            assert [m.id for m in before_close] == written[: len(before_close)]
            assert len(before_close) == 2

            resume = {**headers, "Last-Event-ID": before_close[-1].id or ""}
            async with live.stream(headers=resume) as sse:
                rest = await sse.events(len(written) - 2)

        assert [m.id for m in rest] == written[2:]
