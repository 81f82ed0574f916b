"""A webhook receiver down for ten minutes of simulated time while events keep coming (numbers added to the DNC
list through the API, one a minute), under the dispatcher's own run loop; then it is back.

The rules (docs/webhooks.md, "Delivery"): every event is delivered once the receiver is back; each attempt
happens when the retry schedule says (at once, then 30 s, 5 min, 30 min and 2 h after each failure); every
attempt of an event carries the same event_id, in the header and in the body; an event that got its 2xx is never
sent again. Down means either refusing connections (the port closed) or answering 503.

tests/webhooks/test_dispatcher.py proves the schedule on one event with `run_once` and a hand-moved clock; this
is the outage as it happens: events produced through the API during it, the long-running `run` loop, and the
clock stepped from one instant where something is due to the next, each attempt observed on the delivery rows.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.outbox import OutboxEvent
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.webhooks.dispatcher import RETRY_DELAYS, Dispatcher
from engage.webhooks.models import WebhookDelivery

from ...dialer.conftest import random_ae_mobile
from ...webhooks.conftest import private_client, private_runtime, private_settings  # noqa: F401 - fixtures
from ...webhooks.receiver import Received, Receiver, Reply
from ...webhooks.test_dispatcher import no_foreign_work  # noqa: F401 - autouse: only this test's deliveries are due
from .conftest import TcpGate

DOWN_SECONDS = 600
PRODUCED_AT = range(0, DOWN_SECONDS, 60)  # seconds into the outage: ten events
# Bounded waits: generous, for a loaded two-core machine.
WAIT_SECONDS = 60.0
PATH = "/hooks/engage"


def scheduled_attempts(produced_at: int) -> list[int]:
    """The instants (seconds from the outage's start) of an event's attempts under the documented schedule, when
    every attempt before DOWN_SECONDS fails and the first one after it succeeds."""
    attempts = [produced_at]
    for delay in RETRY_DELAYS:
        if attempts[-1] >= DOWN_SECONDS:
            break
        attempts.append(attempts[-1] + int(delay.total_seconds()))
    return attempts


@dataclass
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None


@dataclass
class Outage:
    """The receiver's side, down (refusing, or answering 503) until `back()`."""

    mode: str
    receiver: Receiver
    gate: TcpGate | None
    down: bool = True
    history: dict[uuid.UUID, list[Attempt]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        port = self.gate.port if self.gate is not None else self.receiver.port
        return f"http://127.0.0.1:{port}{PATH}"

    async def back(self) -> None:
        self.down = False
        if self.gate is not None:
            await self.gate.open()


@pytest.fixture(params=["refusing-connections", "answering-503"])
async def outage(request: pytest.FixtureRequest) -> AsyncIterator[Outage]:
    mode: str = request.param
    state: dict[str, Outage] = {}

    def respond(_received: Received) -> Reply:
        return Reply(status=503 if state["outage"].down else 200)

    async with Receiver(respond) as receiver:
        gate = None
        if mode == "refusing-connections":
            gate = TcpGate("127.0.0.1", receiver.port)
            await gate.open()  # to take a port; closed again at once: the receiver is down
            await gate.close()
        state["outage"] = Outage(mode, receiver, gate)
        yield state["outage"]
        if gate is not None:
            await gate.close()


async def quiet(runtime: Runtime, tenant: Tenant, clock: ManualClock) -> list[WebhookDelivery]:
    """Waits until the dispatcher has done everything due at the clock's instant: every event fanned out, no
    delivery due or in flight. The deliveries then."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            waiting = await session.scalar(select(OutboxEvent.id).where(OutboxEvent.fanned_out_at.is_(None)).limit(1))
            deliveries = list((await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all())
        busy = [
            d
            for d in deliveries
            if d.leased_until is not None
            or (d.status == "pending" and d.next_attempt_at is not None and d.next_attempt_at <= clock.now())
        ]
        if waiting is None and not busy:
            return deliveries
        if time.monotonic() > deadline:
            raise AssertionError(f"the dispatcher did not finish what was due at {clock.now()}: {busy!r}")
        await asyncio.sleep(0.02)


async def test_events_produced_while_the_receiver_is_down_are_all_delivered_later_on_schedule_with_one_event_id(
    outage: Outage,
    runtime: Runtime,
    tenant: Tenant,
    headers: dict[str, str],
    private_client: httpx.AsyncClient,  # noqa: F811 - the fixture imported above
    clock: ManualClock,
) -> None:
    created = await private_client.post(
        "/v1/webhooks", headers=headers, json={"url": outage.url, "events": ["dnc.added"]}
    )
    assert created.status_code == 201, created.text
    start = clock.now()
    produced: dict[int, str] = {}  # seconds into the outage -> the number added then
    stop = asyncio.Event()
    async with Dispatcher(runtime.sessions, clock, allow_private=True) as dispatcher:
        running = asyncio.create_task(dispatcher.run(stop, idle_seconds=0.01))
        try:
            deliveries = await quiet(runtime, tenant, clock)
            while True:
                elapsed = int((clock.now() - start).total_seconds())
                if elapsed in PRODUCED_AT and elapsed not in produced:
                    produced[elapsed] = random_ae_mobile()
                    added = await private_client.post("/v1/dnc", headers=headers, json={"phones": [produced[elapsed]]})
                    assert added.json()["added"] == 1
                deliveries = await quiet(runtime, tenant, clock)
                observe(outage, deliveries)
                due = [d.next_attempt_at for d in deliveries if d.status == "pending" and d.next_attempt_at]
                upcoming = [start + timedelta(seconds=s) for s in PRODUCED_AT if s > elapsed] + due
                if not upcoming:
                    break
                following = min(upcoming)
                if outage.down and following >= start + timedelta(seconds=DOWN_SECONDS):
                    await outage.back()  # up before the clock reaches the end of the outage, not at the same time
                clock.advance((following - clock.now()).total_seconds())
            # Three hours on, past every retry delay: nothing delivered is sent again.
            clock.advance(3 * 3600)
            deliveries = await quiet(runtime, tenant, clock)
            observe(outage, deliveries)
        finally:
            stop.set()
            await asyncio.wait_for(running, WAIT_SECONDS)

    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        events = list((await session.scalars(select(OutboxEvent).order_by(OutboxEvent.occurred_at))).all())
    assert sorted(e.payload["phone"] for e in events) == sorted(produced.values())
    assert len(deliveries) == len(events) == len(PRODUCED_AT)
    assert {d.status for d in deliveries} == {"succeeded"}
    received = outage.receiver.requests_to(PATH)
    for event in events:
        produced_at = int((event.occurred_at - start).total_seconds())
        expected = [start + timedelta(seconds=s) for s in scheduled_attempts(produced_at)]
        [delivery] = [d for d in deliveries if d.event_id == event.id]
        attempts = outage.history[delivery.id]
        assert [a.at for a in attempts] == expected, f"the attempts of the event produced at {produced_at} s"
        assert all(a.status_code in (None, 503) and a.error for a in attempts[:-1])
        assert (attempts[-1].status_code, delivery.delivered_at) == (200, expected[-1])
        # What reached the receiver: each request names this event alike in header and body, signed at the
        # attempt's instant; only the last one got a 2xx, and nothing came after it.
        arrived = [r for r in received if r.headers["x-broadnet-event-id"] == str(event.id)]
        assert all(json.loads(r.body)["event_id"] == str(event.id) for r in arrived)
        signed_at = [int(r.headers["x-broadnet-timestamp"]) for r in arrived]
        reachable = expected if outage.mode == "answering-503" else expected[-1:]
        assert signed_at == [int(at.timestamp()) for at in reachable]
    assert len(received) == sum(
        len(scheduled_attempts(s)) if outage.mode == "answering-503" else 1 for s in PRODUCED_AT
    )


def observe(outage: Outage, deliveries: list[WebhookDelivery]) -> None:
    """Each delivery's attempts, read off its row between two instants: at most one new attempt each time."""
    for delivery in deliveries:
        history = outage.history.setdefault(delivery.id, [])
        new = delivery.attempts - len(history)
        assert new in (0, 1), f"{new} attempts of one delivery at one instant"
        if new and delivery.last_attempt_at is not None:
            history.append(Attempt(delivery.last_attempt_at, delivery.last_status_code, delivery.last_error))
