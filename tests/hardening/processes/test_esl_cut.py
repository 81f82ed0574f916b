"""The ESL socket cut mid-call: the switch simulator aborts its side of the dialer's connection while calls are
bridged, as a network failure or a switch-side restart of mod_event_socket would.

The worker runs in this process over the real loopback socket (client, `EslSwitch`, `SimPhones`, the real
PostgreSQL). Its reconnection back-off outlasts every talk time, so the calls up at the cut end while it is away:
their hang-ups are never sent, and only the reconciliation on reconnecting can end them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from engage.calls.models import Call
from engage.campaigns import service as campaigns
from engage.compliance.engine import Engine
from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.dialer.worker import Worker, WorkerConfig
from engage.telephony.esl.client import Backoff, EslClient
from engage.telephony.esl.switch import LOST_ON_RECONNECT, EslSwitch
from engage.telephony.sim.phones import SimPhones
from engage.telephony.sim.server import SwitchSimulator
from tests.dialer.conftest import OPEN_IN_DUBAI, PASSWORD, Floor, Reader, Registries, SteppingClock, make_floor
from tests.dialer.test_worker_processes import within

from ...factories import Factory
from .conftest import assert_each_call_announced_once
from .switch_log import SwitchLog

LIVE = {"dialing", "ringing", "answered", "bridged"}
FINAL = {"completed", "no_answer", "busy", "failed", "voicemail"}
# Generous: progress rides on the machine's speed, and other suites run beside this one.
WAIT_SECONDS = 60.0
# The client's reconnection back-off: longer than the longest talk time, so every call bridged at the cut ends
# while the worker is away and only the reconciliation on reconnecting can end it.
AWAY_SECONDS = 3.0
# Bounded well above the back-off, for a loaded two-core machine.
RECONNECT_SECONDS = 30.0


@pytest.fixture
def dial_clock() -> SteppingClock:
    return SteppingClock(OPEN_IN_DUBAI)


@pytest.fixture
def worker_config(tmp_path: Path) -> WorkerConfig:
    return WorkerConfig(
        ring_timeout_seconds=5,
        tick_seconds=0.05,
        heartbeat_seconds=0.2,
        lease_stale_seconds=3,
        max_lines_per_tick=50,
        abandon_after_seconds=2.0,
        recordings_dir=tmp_path,
    )


@pytest.fixture
async def worker(
    runtime: Runtime, sim_port: int, worker_config: WorkerConfig, registries: Registries, dial_clock: SteppingClock
) -> AsyncIterator[Worker]:
    clock = dial_clock
    client = EslClient(
        command_timeout_seconds=2.0,
        heartbeat_timeout_seconds=None,
        backoff=Backoff(initial_seconds=AWAY_SECONDS, max_seconds=AWAY_SECONDS, jitter=0.0),
    )
    await asyncio.wait_for(client.connect("127.0.0.1", sim_port, PASSWORD), 10)
    switch = EslSwitch(client, gateway="carrier", clock=clock)
    await asyncio.wait_for(switch.start(), 10)
    worker = Worker(
        sessions=runtime.sessions,
        switch=switch,
        clock=clock,
        engine=Engine(clock=clock, budget_seconds=2.0),
        config=worker_config,
        phones=SimPhones(client),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30)
        await switch.close()
        await client.close()


async def agent_states(owner: asyncpg.Connection, floor: Floor) -> dict[str, tuple[str, object]]:
    """Each agent's state and, in wrap-up, when it ends."""
    rows = await owner.fetch(
        "SELECT agent_id, state, wrap_up_until FROM agent_states WHERE agent_id = ANY($1::uuid[])",
        [a.id for a in floor.agents],
    )
    return {str(row["agent_id"]): (row["state"], row["wrap_up_until"]) for row in rows}


def all_ended(calls: list[Call]) -> bool:
    return bool(calls) and all(call.ended_at is not None for call in calls)


async def test_a_cut_esl_socket_is_reconnected_its_calls_reconciled_and_dialling_resumes_without_redialling(
    worker: Worker,
    sim: SwitchSimulator,
    dials: SwitchLog,
    factory: Factory,
    runtime: Runtime,
    reader: Reader,
    owner: asyncpg.Connection,
) -> None:
    floor = await make_floor(factory, runtime, contacts_count=14, agents_count=2, wrap_up_seconds=1)
    calls = await within(
        WAIT_SECONDS,
        lambda: reader.calls(floor),
        lambda c: sum(x.status == "bridged" for x in c) >= 1,
        "a call bridged to an agent",
    )
    up_at_cut = {call.id for call in calls if call.status in LIVE}
    dialled_before_cut = len(dials.customer_legs)

    await sim.drop_connections()
    cut_at = time.monotonic()

    # The worker reconnects by itself and dials again: a leg created after the cut went over a new connection.
    await within(RECONNECT_SECONDS, lambda: asyncio.sleep(0, dials.dialled_since(cut_at)), bool, "a dial after the cut")
    # The calls that were up at the cut all end, in a final state (completed if its hang-up came over the new
    # connection, failed with LOST_ON_RECONNECT if the leg ended while we were away); none stays live.
    calls = await within(
        WAIT_SECONDS,
        lambda: reader.calls(floor),
        lambda c: len(c) > len(up_at_cut) and all(x.ended_at is not None for x in c if x.id in up_at_cut),
        "the calls up at the cut to end",
    )
    assert {call.status for call in calls if call.id in up_at_cut} <= FINAL
    assert LOST_ON_RECONNECT in {call.hangup_cause for call in calls if call.id in up_at_cut}
    # Pausing stops new dials; everything in flight goes to its end.
    async with tenant_transaction(runtime.sessions, floor.tenant.id) as session:
        await campaigns.pause_campaign(session, floor.campaign_id, clock=runtime.clock)
    calls = await within(WAIT_SECONDS, lambda: reader.calls(floor), all_ended, "every call to end")
    # No agent left holding a call that is over: none reserved or on a call, and a wrap-up has its end.
    states = await agent_states(owner, floor)
    assert len(states) == len(floor.agents)
    assert all(state in ("available", "wrap_up") for state, _ in states.values()), states
    assert all(until is not None for state, until in states.values() if state == "wrap_up"), states

    calls = await reader.calls(floor)
    contacts = await reader.contacts(floor)
    campaign = await reader.campaign(floor)
    assert not [call for call in calls if call.status in LIVE]
    assert {call.status for call in calls} <= FINAL
    assert not [contact for contact in contacts if contact.status == "dialing"]
    assert all(contact.attempts <= campaign.max_attempts for contact in contacts)
    assert sum(contact.attempts for contact in contacts) == len(calls)
    # No number dialled twice on account of the cut: every leg the switch created is one call row and one
    # attempt of its contact, and nobody reached an agent twice.
    assert len(set(dials.leg_ids)) == len(dials.leg_ids)
    assert set(dials.leg_ids) <= {str(call.id) for call in calls}
    dialled = dials.per_number()
    assert all(dialled[contact.phone] <= contact.attempts for contact in contacts)
    assert max(Counter(call.contact_id for call in calls if call.bridged_at is not None).values()) == 1
    assert len(dials.customer_legs) > dialled_before_cut
    await assert_each_call_announced_once(reader, floor, calls)
