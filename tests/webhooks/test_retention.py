"""The outbox's retention: events past `retention_days` go, with their finished deliveries; an event still owed to a
receiver (a delivery pending, or not yet fanned out) stays whatever its age, and so do the newer ones.

The purge works across tenants and other tests leave events behind, so what a pass returns is checked only as a
lower bound; the tenant's own rows say exactly what went."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from engage.core.clock import ManualClock
from engage.core.db import unscoped_transaction
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.webhooks.dispatcher import RETRY_DELAYS, Dispatcher
from engage.webhooks.repository import fan_out
from engage.webhooks.retention import OutboxRetention, RetentionConfig

from .receiver import Receiver, Reply
from .test_dispatcher import deliveries, no_foreign_work, record, subscribe

__all__ = ["no_foreign_work"]  # autouse: no other test's due work in the dispatcher's way

RETENTION_DAYS = 30


async def outbox_ids(owner: asyncpg.Connection, tenant: Tenant) -> set[str]:
    rows = await owner.fetch("SELECT id FROM outbox_events WHERE tenant_id = $1", tenant.id)
    return {str(row["id"]) for row in rows}


async def test_old_delivered_events_go_with_their_deliveries_and_owed_or_recent_ones_stay(
    runtime: Runtime, tenant: Tenant, clock: ManualClock, owner: asyncpg.Connection
) -> None:
    retention = OutboxRetention(runtime.sessions, clock, RetentionConfig(RETENTION_DAYS, batch=2))
    async with (
        Receiver(lambda request: Reply(status=500 if request.path == "/down" else 200)) as live,
        Dispatcher(runtime.sessions, clock, allow_private=True) as dispatcher,
    ):
        await subscribe(runtime, tenant, live.url("/up"), events=["call.completed"])
        await subscribe(runtime, tenant, live.url("/down"), events=["call.answered"])
        delivered = await record(runtime, tenant, 5, event_type="call.completed")
        owed = await record(runtime, tenant, 1, event_type="call.answered")
        unsubscribed = await record(runtime, tenant, 1, event_type="agent.state_changed")
        await dispatcher.run_once()  # five delivered, one failed and pending its retry, one with no subscriber
        clock.advance(timedelta(days=RETENTION_DAYS, seconds=1).total_seconds())
        recent = await record(runtime, tenant, 1, event_type="call.completed")

        purged = await retention.purge()  # batches of two: three passes over the five that may go

    ids = await outbox_ids(owner, tenant)
    assert purged >= 6  # five delivered, one that no subscription wanted
    assert ids == {str(e.id) for e in owed + recent}
    assert {str(e.id) for e in delivered + unsubscribed}.isdisjoint(ids)
    [pending] = [d for d in await deliveries(runtime, tenant) if d.event_id == owed[0].id]
    assert pending.status == "pending"
    assert {d.event_id for d in await deliveries(runtime, tenant)} == {owed[0].id}  # the recent one is not fanned out


async def test_an_event_whose_delivery_gave_up_goes_once_it_is_old_and_a_second_pass_finds_nothing(
    runtime: Runtime, tenant: Tenant, clock: ManualClock, owner: asyncpg.Connection
) -> None:
    retention = OutboxRetention(runtime.sessions, clock, RetentionConfig(RETENTION_DAYS))
    async with (
        Receiver(lambda _request: Reply(status=503)) as live,
        Dispatcher(runtime.sessions, clock, allow_private=True) as dispatcher,
    ):
        await subscribe(runtime, tenant, live.url("/gone"))
        [event] = await record(runtime, tenant)
        await dispatcher.run_once()
        for delay in RETRY_DELAYS:
            clock.advance(delay.total_seconds())
            await dispatcher.run_once()
    [failed] = await deliveries(runtime, tenant)
    assert failed.status == "failed"
    clock.advance(timedelta(days=RETENTION_DAYS - 1).total_seconds())
    await retention.purge()
    assert await outbox_ids(owner, tenant) == {str(event.id)}  # not old enough yet

    clock.advance(timedelta(days=1).total_seconds())
    assert await retention.purge() >= 1
    assert await retention.purge() == 0  # the first pass took everything past retention
    assert await outbox_ids(owner, tenant) == set()
    assert await deliveries(runtime, tenant) == []


async def test_nothing_is_purged_before_it_is_fanned_out(
    runtime: Runtime, tenant: Tenant, clock: ManualClock, owner: asyncpg.Connection
) -> None:
    [event] = await record(runtime, tenant)
    clock.advance(timedelta(days=RETENTION_DAYS + 1).total_seconds())
    retention = OutboxRetention(runtime.sessions, clock, RetentionConfig(RETENTION_DAYS))

    await retention.purge()
    assert await outbox_ids(owner, tenant) == {str(event.id)}
    async with unscoped_transaction(runtime.sessions) as session:
        while await fan_out(session, 1000, clock.now()):
            pass
    assert await retention.purge() >= 1
    assert await outbox_ids(owner, tenant) == set()
