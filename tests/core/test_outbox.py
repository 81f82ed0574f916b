"""The transactional outbox (issue 2, point 4): an event exists if and only if the transaction that recorded
it committed, and it belongs to its tenant alone."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.outbox import OutboxEvent, record_event
from engage.core.runtime import Runtime

from ..factories import Factory

PAYLOAD = {"call_id": "01919a1b-c2d3-7e4f-8a5b-6c7d8e9f0a1b", "duration_seconds": 42, "tags": ["vip"]}


class _Abort(Exception):
    """Raised inside a transaction to roll it back."""


async def _events_seen_by(runtime: Runtime, tenant_id: uuid.UUID) -> list[OutboxEvent]:
    async with tenant_transaction(runtime.sessions, tenant_id) as session:
        return list((await session.scalars(select(OutboxEvent))).all())


class TestRecordEvent:
    async def test_event_recorded_in_a_committed_transaction_is_stored_once_with_its_fields(
        self, runtime: Runtime, factory: Factory, clock: ManualClock
    ) -> None:
        tenant = await factory.tenant()
        correlation_id = uuid.uuid4()
        clock.advance(90)

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            recorded = await record_event(session, tenant.id, "call.completed", PAYLOAD, correlation_id, clock=clock)

        [stored] = await _events_seen_by(runtime, tenant.id)
        assert stored.id == recorded.id
        assert stored.tenant_id == tenant.id
        assert stored.event_type == "call.completed"
        assert stored.payload == PAYLOAD
        assert stored.correlation_id == correlation_id
        assert stored.occurred_at == clock.now()

    async def test_event_ids_are_uuid7_so_they_sort_in_recording_order(
        self, runtime: Runtime, factory: Factory, clock: ManualClock
    ) -> None:
        tenant = await factory.tenant()

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            first = await record_event(session, tenant.id, "campaign.started", {}, clock=clock)
            second = await record_event(session, tenant.id, "campaign.paused", {}, clock=clock)

        assert first.id.version == 7
        assert first.id < second.id

    async def test_correlation_id_is_optional(self, runtime: Runtime, factory: Factory, clock: ManualClock) -> None:
        tenant = await factory.tenant()

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            await record_event(session, tenant.id, "campaign.started", {"campaign_id": "c-1"}, clock=clock)

        [stored] = await _events_seen_by(runtime, tenant.id)
        assert stored.correlation_id is None

    async def test_event_recorded_in_a_transaction_that_rolls_back_is_not_stored(
        self, runtime: Runtime, factory: Factory, clock: ManualClock
    ) -> None:
        tenant = await factory.tenant()

        async def record_then_fail() -> None:
            async with tenant_transaction(runtime.sessions, tenant.id) as session:
                await record_event(session, tenant.id, "call.completed", PAYLOAD, clock=clock)
                raise _Abort

        with pytest.raises(_Abort):
            await record_then_fail()

        assert await _events_seen_by(runtime, tenant.id) == []

    async def test_another_tenant_does_not_see_the_event(
        self, runtime: Runtime, factory: Factory, clock: ManualClock
    ) -> None:
        owner = await factory.tenant(name="Owner")
        other = await factory.tenant(name="Other")
        async with tenant_transaction(runtime.sessions, owner.id) as session:
            await record_event(session, owner.id, "call.completed", PAYLOAD, clock=clock)

        seen_by_other = await _events_seen_by(runtime, other.id)
        async with unscoped_transaction(runtime.sessions) as session:
            seen_without_tenant = await session.scalar(select(func.count()).select_from(OutboxEvent))

        assert seen_by_other == []
        assert seen_without_tenant == 0
        assert len(await _events_seen_by(runtime, owner.id)) == 1

    async def test_event_for_another_tenant_is_refused_by_row_level_security(
        self, runtime: Runtime, factory: Factory, clock: ManualClock
    ) -> None:
        mine = await factory.tenant(name="Mine")
        theirs = await factory.tenant(name="Theirs")

        with pytest.raises(DBAPIError, match="row-level security"):
            async with tenant_transaction(runtime.sessions, mine.id) as session:
                await record_event(session, theirs.id, "call.completed", PAYLOAD, clock=clock)

        assert await _events_seen_by(runtime, theirs.id) == []
