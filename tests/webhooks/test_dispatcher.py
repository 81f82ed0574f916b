"""The dispatcher against a real loopback receiver: the seed's envelope and signature, the retry schedule (on an
injected clock), timeouts, redirects, at-least-once under a killed dispatcher, SKIP LOCKED between dispatchers,
per-subscription lanes and tenant isolation.

A dispatcher works across tenants, so every test starts with no due work left by other tests
(`no_foreign_work`) and gives each subscription its own receiver path.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, update

from engage.core.clock import ManualClock, isoformat_z
from engage.core.db import asyncpg_url, tenant_transaction, unscoped_transaction
from engage.core.ids import new_id
from engage.core.outbox import OutboxEvent, record_event
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.webhooks.dispatcher import RETRY_DELAYS, Dispatcher
from engage.webhooks.models import WebhookDelivery, WebhookSubscription
from engage.webhooks.repository import fan_out
from engage.webhooks.signing import sign_timestamped

from ..factories import Factory
from .receiver import Received, Receiver, Reply
from .seed_snippet import verify_webhook

ENVELOPE_KEYS = ["event_id", "event_type", "tenant_id", "occurred_at", "correlation_id", "schema_version", "payload"]
PAYLOAD = {"call_id": "01919dee-c2d3-7e4f-8a5b-999999999999", "status": "completed", "duration_seconds": 248}


@pytest.fixture(autouse=True)
async def no_foreign_work(database_url: str) -> None:
    """Other tests leave outbox events and deliveries behind (their clocks and receivers are gone): mark them
    done, as the database owner, so this test's dispatchers see only this test's work."""
    connection = await asyncpg.connect(asyncpg_url(database_url).set(drivername="postgresql").render_as_string(False))
    try:
        await connection.execute("UPDATE outbox_events SET fanned_out_at = now() WHERE fanned_out_at IS NULL")
        await connection.execute(
            "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, leased_until = NULL "
            "WHERE status = 'pending'"
        )
    finally:
        await connection.close()


@pytest.fixture
async def live() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


@pytest.fixture
async def dispatcher(runtime: Runtime, clock: ManualClock) -> AsyncIterator[Dispatcher]:
    async with Dispatcher(runtime.sessions, clock, allow_private=True) as dispatching:
        yield dispatching


async def subscribe(
    runtime: Runtime,
    tenant: Tenant,
    url: str,
    *,
    events: Sequence[str] = ("call.completed",),
    secret: str | None = None,
    is_active: bool = True,
) -> WebhookSubscription:
    now = runtime.clock.now()
    subscription = WebhookSubscription(
        id=new_id(),
        tenant_id=tenant.id,
        url=url,
        events=list(events),
        description=None,
        secret=secret or f"whsec_{secrets.token_urlsafe(24)}",
        previous_secret=None,
        previous_secret_expires_at=None,
        is_active=is_active,
        created_at=now,
        updated_at=now,
    )
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        session.add(subscription)
    return subscription


async def record(
    runtime: Runtime,
    tenant: Tenant,
    count: int = 1,
    *,
    event_type: str = "call.completed",
    payload: dict[str, Any] | None = None,
    correlation_id: uuid.UUID | None = None,
) -> list[OutboxEvent]:
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        return [
            await record_event(session, tenant.id, event_type, payload or PAYLOAD, correlation_id, clock=runtime.clock)
            for _ in range(count)
        ]


async def deliveries(runtime: Runtime, tenant: Tenant) -> list[WebhookDelivery]:
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        rows = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.occurred_at))
        return list(rows.all())


def event_ids(requests: Sequence[Received]) -> list[str]:
    return [r.headers["x-broadnet-event-id"] for r in requests]


async def drain(*dispatchers: Dispatcher) -> None:
    while sum(await asyncio.gather(*(d.run_once() for d in dispatchers))):
        pass


class TestEnvelopeAndSignature:
    async def test_the_seed_snippet_verifies_the_signature_of_the_exact_body_received(
        self, runtime: Runtime, tenant: Tenant, live: Receiver, dispatcher: Dispatcher, clock: ManualClock
    ) -> None:
        subscription = await subscribe(runtime, tenant, live.url("/signed"))
        await record(runtime, tenant)

        await dispatcher.run_once()

        [request] = live.requests_to("/signed")
        assert verify_webhook(request.body, request.headers["x-broadnet-signature"], subscription.secret)
        assert not verify_webhook(request.body + b" ", request.headers["x-broadnet-signature"], subscription.secret)
        timestamp = int(request.headers["x-broadnet-timestamp"])
        assert timestamp == int(clock.now().timestamp())
        assert request.headers["x-broadnet-signature-timestamped"] == sign_timestamped(
            timestamp, request.body, subscription.secret
        )

    async def test_the_envelope_has_the_seed_keys_in_the_seed_order_and_the_event_id_header_matches(
        self, runtime: Runtime, tenant: Tenant, live: Receiver, dispatcher: Dispatcher
    ) -> None:
        await subscribe(runtime, tenant, live.url("/envelope"))
        correlation_id = new_id()
        [event] = await record(runtime, tenant, correlation_id=correlation_id)

        await dispatcher.run_once()

        [request] = live.requests_to("/envelope")
        document = json.loads(request.body)
        assert list(document) == ENVELOPE_KEYS
        assert document == {
            "event_id": str(event.id),
            "event_type": "call.completed",
            "tenant_id": str(tenant.id),
            "occurred_at": isoformat_z(event.occurred_at),
            "correlation_id": str(correlation_id),
            "schema_version": "1",
            "payload": PAYLOAD,
        }
        assert document["occurred_at"].endswith("Z")
        assert request.headers["x-broadnet-event-id"] == str(event.id)
        assert request.headers["content-type"] == "application/json"

    async def test_one_delivery_per_event_and_subscription_for_the_subscribed_types_only(
        self, runtime: Runtime, tenant: Tenant, live: Receiver, dispatcher: Dispatcher
    ) -> None:
        await subscribe(runtime, tenant, live.url("/calls"), events=["call.completed"])
        await subscribe(runtime, tenant, live.url("/both"), events=["call.completed", "dnc.added"])
        await subscribe(runtime, tenant, live.url("/off"), events=["call.completed"], is_active=False)
        [call] = await record(runtime, tenant)
        [dnc] = await record(runtime, tenant, event_type="dnc.added", payload={"phone": "+971501234567"})

        await drain(dispatcher)

        assert event_ids(live.requests_to("/calls")) == [str(call.id)]
        assert sorted(event_ids(live.requests_to("/both"))) == sorted([str(call.id), str(dnc.id)])
        assert live.requests_to("/off") == []
        assert len(await deliveries(runtime, tenant)) == 3

    async def test_a_deactivated_subscription_receives_nothing_until_switched_back_on(
        self, runtime: Runtime, tenant: Tenant, live: Receiver, dispatcher: Dispatcher
    ) -> None:
        subscription = await subscribe(runtime, tenant, live.url("/paused"))
        [event] = await record(runtime, tenant)
        async with unscoped_transaction(runtime.sessions) as session:
            await fan_out(session, 100, runtime.clock.now())  # its delivery is queued, then the admin pauses it
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            await session.execute(
                update(WebhookSubscription).where(WebhookSubscription.id == subscription.id).values(is_active=False)
            )
        await drain(dispatcher)
        paused = list(live.requests_to("/paused"))

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            await session.execute(
                update(WebhookSubscription).where(WebhookSubscription.id == subscription.id).values(is_active=True)
            )
        await drain(dispatcher)

        assert paused == []
        assert event_ids(live.requests_to("/paused")) == [str(event.id)]


class TestRetries:
    async def test_a_failing_receiver_gets_the_same_event_id_at_30_seconds_and_5_minutes_later(
        self, runtime: Runtime, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
    ) -> None:
        answers = iter([500, 502, 200])
        async with Receiver(lambda _r: Reply(status=next(answers))) as live:
            await subscribe(runtime, tenant, live.url("/flaky"))
            [event] = await record(runtime, tenant)

            await dispatcher.run_once()  # attempt 1 fails
            clock.advance(29)
            await dispatcher.run_once()
            assert len(live.requests_to("/flaky")) == 1  # not due before 30 s
            clock.advance(1)
            await dispatcher.run_once()  # attempt 2 fails
            clock.advance(299)
            await dispatcher.run_once()
            assert len(live.requests_to("/flaky")) == 2  # not due before 5 min
            clock.advance(1)
            await dispatcher.run_once()  # attempt 3 succeeds
            clock.advance(3 * 3600)
            await dispatcher.run_once()

            assert event_ids(live.requests_to("/flaky")) == [str(event.id)] * 3
        [delivery] = await deliveries(runtime, tenant)
        assert delivery.status == "succeeded"
        assert delivery.attempts == 3
        assert delivery.delivered_at == clock.now() - timedelta(hours=3)
        assert delivery.next_attempt_at is None

    async def test_after_the_fifth_failure_the_delivery_is_failed_and_never_tried_again(
        self, runtime: Runtime, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
    ) -> None:
        async with Receiver(lambda _r: Reply(status=500)) as live:
            await subscribe(runtime, tenant, live.url("/down"))
            await record(runtime, tenant)
            attempted_at = []

            await dispatcher.run_once()
            attempted_at.append(clock.now())
            for delay in RETRY_DELAYS:
                clock.advance(delay.total_seconds())
                await dispatcher.run_once()
                attempted_at.append(clock.now())
            clock.advance(24 * 3600)
            await dispatcher.run_once()

            assert len(live.requests_to("/down")) == 5
        [delivery] = await deliveries(runtime, tenant)
        assert delivery.status == "failed"
        assert delivery.attempts == 5
        assert delivery.next_attempt_at is None
        assert delivery.last_status_code == 500
        assert delivery.last_attempt_at == attempted_at[-1]
        # The seed's "total elapsed" column: 0 s, 30 s, 5 m 30 s, 35 m 30 s, 2 h 35 m.
        assert [(at - attempted_at[0]).total_seconds() for at in attempted_at] == [0, 30, 330, 2130, 9330]

    async def test_a_receiver_slower_than_the_timeout_counts_as_a_failure(
        self, runtime: Runtime, tenant: Tenant, clock: ManualClock
    ) -> None:
        never = asyncio.Event()
        async with (
            Receiver(lambda _r: Reply(hold=never)) as live,
            Dispatcher(runtime.sessions, clock, allow_private=True, timeout_seconds=0.2) as dispatcher,
        ):
            await subscribe(runtime, tenant, live.url("/slow"))
            await record(runtime, tenant)

            await dispatcher.run_once()

        [delivery] = await deliveries(runtime, tenant)
        assert delivery.status == "pending"
        assert delivery.attempts == 1
        assert delivery.last_error == "timed out after 0.2 s"
        assert delivery.last_status_code is None
        assert delivery.next_attempt_at == clock.now() + RETRY_DELAYS[0]

    async def test_a_redirect_is_not_followed_and_counts_as_a_failure(
        self, runtime: Runtime, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
    ) -> None:
        async with Receiver(lambda _r: Reply(status=302, headers={"Location": "/elsewhere"})) as live:
            await subscribe(runtime, tenant, live.url("/moved"))
            await record(runtime, tenant)

            await dispatcher.run_once()

            assert live.requests_to("/elsewhere") == []
        [delivery] = await deliveries(runtime, tenant)
        assert delivery.status == "pending"
        assert delivery.last_status_code == 302
        assert delivery.next_attempt_at == clock.now() + RETRY_DELAYS[0]


class TestAtLeastOnce:
    async def test_a_dispatcher_killed_mid_batch_loses_nothing_and_duplicates_only_what_was_in_flight(
        self, runtime: Runtime, tenant: Tenant, clock: ManualClock
    ) -> None:
        hold = asyncio.Event()
        holding = True
        async with Receiver(lambda _r: Reply(hold=hold if holding else None)) as live:
            await subscribe(runtime, tenant, live.url("/killed"))
            events = await record(runtime, tenant, 10)
            first = Dispatcher(runtime.sessions, clock, allow_private=True, lease_seconds=60)
            killed = asyncio.create_task(first.run_once())
            in_flight = event_ids(await live.wait_for("/killed", 4))

            killed.cancel()
            with pytest.raises(asyncio.CancelledError):
                await killed
            await first.aclose()
            holding = False
            hold.set()
            async with Dispatcher(runtime.sessions, clock, allow_private=True) as second:
                assert await second.run_once() == 0  # the dead dispatcher's leases still hold
                clock.advance(61)
                await drain(second)

            received = event_ids(live.requests_to("/killed"))
        assert sorted(set(received)) == sorted(str(e.id) for e in events)
        duplicates = [event_id for event_id in set(received) if received.count(event_id) > 1]
        assert set(duplicates) <= set(in_flight)
        assert len(in_flight) == 4
        assert all(d.status == "succeeded" for d in await deliveries(runtime, tenant))

    async def test_two_dispatchers_at_once_never_send_the_same_delivery_twice(
        self, runtime: Runtime, tenant: Tenant, live: Receiver, clock: ManualClock
    ) -> None:
        await subscribe(runtime, tenant, live.url("/a"))
        await subscribe(runtime, tenant, live.url("/b"))
        events = await record(runtime, tenant, 60)
        async with (
            Dispatcher(runtime.sessions, clock, allow_private=True, batch_size=15) as one,
            Dispatcher(runtime.sessions, clock, allow_private=True, batch_size=15) as two,
        ):
            await drain(one, two)

        for path in ("/a", "/b"):
            assert sorted(event_ids(live.requests_to(path))) == sorted(str(e.id) for e in events)

    async def test_the_run_loop_delivers_what_is_recorded_while_it_runs_and_stops_when_told(
        self, runtime: Runtime, tenant: Tenant, live: Receiver, dispatcher: Dispatcher
    ) -> None:
        await subscribe(runtime, tenant, live.url("/loop"))
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop, idle_seconds=0.01))

        events = await record(runtime, tenant, 5)
        received = await live.wait_for("/loop", 5)
        stop.set()
        await asyncio.wait_for(running, 5)

        assert sorted(event_ids(received)) == sorted(str(e.id) for e in events)


class TestLanes:
    async def test_a_slow_subscription_holds_only_its_own_lane(
        self, runtime: Runtime, tenant: Tenant, clock: ManualClock
    ) -> None:
        hold = asyncio.Event()
        async with (
            Receiver(lambda r: Reply(hold=hold if r.path == "/slow" else None)) as live,
            Dispatcher(runtime.sessions, clock, allow_private=True, per_subscription_limit=4) as dispatcher,
        ):
            await subscribe(runtime, tenant, live.url("/slow"))
            await subscribe(runtime, tenant, live.url("/fast"))
            await record(runtime, tenant, 10)
            running = asyncio.create_task(dispatcher.run_once())

            await live.wait_for("/fast", 10)
            assert len(live.requests_to("/slow")) == 4  # its lane is full; the fast one went through meanwhile

            hold.set()
            await running
            assert len(live.requests_to("/slow")) == 10
            assert live.max_in_flight["/slow"] == 4

    async def test_with_a_lane_of_one_a_subscription_receives_events_in_occurred_at_order(
        self, runtime: Runtime, tenant: Tenant, live: Receiver, clock: ManualClock
    ) -> None:
        await subscribe(runtime, tenant, live.url("/ordered"))
        events = []
        for _ in range(8):
            events += await record(runtime, tenant)
            clock.advance(1)
        async with Dispatcher(runtime.sessions, clock, allow_private=True, per_subscription_limit=1) as dispatcher:
            await dispatcher.run_once()

        assert event_ids(live.requests_to("/ordered")) == [str(e.id) for e in events]


class TestTenantIsolation:
    async def test_a_subscription_receives_only_its_own_tenants_events(
        self, runtime: Runtime, factory: Factory, live: Receiver, dispatcher: Dispatcher
    ) -> None:
        acme = await factory.tenant(name="Acme")
        globex = await factory.tenant(name="Globex")
        await subscribe(runtime, acme, live.url("/acme"))
        await subscribe(runtime, globex, live.url("/globex"))
        [globex_event] = await record(runtime, globex)

        await drain(dispatcher)

        assert live.requests_to("/acme") == []
        [request] = live.requests_to("/globex")
        assert json.loads(request.body)["tenant_id"] == str(globex.id)
        assert request.headers["x-broadnet-event-id"] == str(globex_event.id)
        assert await deliveries(runtime, acme) == []
