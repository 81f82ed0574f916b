"""The switch simulator over a real loopback socket, an ESL client connected to it, and the adapter on top.

Ring and talk times are tiny and the seed fixed, so a whole call takes a few tens of milliseconds; every wait
is bounded (`WAIT_SECONDS`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from engage.core.clock import ManualClock
from engage.telephony.esl.client import Backoff, EslClient
from engage.telephony.esl.switch import EslSwitch
from engage.telephony.events import SwitchEvent
from engage.telephony.sim.server import Behaviour, SwitchSimulator

PASSWORD = "ClueCon-test"
WAIT_SECONDS = 3.0
FAST_RECONNECT = Backoff(initial_seconds=0.02, max_seconds=0.1)


@pytest.fixture
def behaviour() -> Behaviour:
    """Calls that end on their own within tens of milliseconds; a test overrides it for longer calls."""
    return Behaviour(ring_seconds=(0.01, 0.05), talk_seconds=(0.01, 0.05), seed=7)


@pytest.fixture
def reconnect_backoff() -> Backoff:
    return FAST_RECONNECT


@pytest.fixture
def message_seconds() -> float:
    """How long a message played before a hangup lasts; a test that must see the leg mid-message raises it."""
    return 0.05


@pytest.fixture
async def running_sim(behaviour: Behaviour, message_seconds: float) -> AsyncIterator[tuple[SwitchSimulator, int]]:
    simulator = SwitchSimulator(
        password=PASSWORD, behaviour=behaviour, heartbeat_seconds=0.1, message_seconds=message_seconds
    )
    port = await simulator.start()
    yield simulator, port
    await simulator.stop()


@pytest.fixture
def sim(running_sim: tuple[SwitchSimulator, int]) -> SwitchSimulator:
    return running_sim[0]


@pytest.fixture
def sim_port(running_sim: tuple[SwitchSimulator, int]) -> int:
    return running_sim[1]


@pytest.fixture
async def client(sim_port: int, reconnect_backoff: Backoff) -> AsyncIterator[EslClient]:
    esl = EslClient(command_timeout_seconds=2.0, heartbeat_timeout_seconds=None, backoff=reconnect_backoff)
    await asyncio.wait_for(esl.connect("127.0.0.1", sim_port, PASSWORD), WAIT_SECONDS)
    yield esl
    await esl.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 6, 12, 10, 0, tzinfo=UTC))


@pytest.fixture
async def switch(client: EslClient, clock: ManualClock) -> AsyncIterator[EslSwitch]:
    adapter = EslSwitch(client, gateway="carrier1", clock=clock)
    await asyncio.wait_for(adapter.start(), WAIT_SECONDS)
    yield adapter
    await adapter.close()


@pytest.fixture
def events(switch: EslSwitch) -> AsyncIterator[SwitchEvent]:
    return switch.events()


SwitchFactory = Callable[..., Awaitable[EslSwitch]]


@pytest.fixture
async def another_switch(sim_port: int, clock: ManualClock) -> AsyncIterator[SwitchFactory]:
    """An EslSwitch on a client of its own (as another dialer process would have), closed at the end; keyword
    arguments go to EslSwitch."""
    opened: list[tuple[EslClient, EslSwitch]] = []

    async def open_switch(**options: Any) -> EslSwitch:
        esl = EslClient(command_timeout_seconds=2.0, heartbeat_timeout_seconds=None, backoff=FAST_RECONNECT)
        await asyncio.wait_for(esl.connect("127.0.0.1", sim_port, PASSWORD), WAIT_SECONDS)
        adapter = EslSwitch(esl, gateway="carrier1", clock=clock, **options)
        opened.append((esl, adapter))
        await asyncio.wait_for(adapter.start(), WAIT_SECONDS)
        return adapter

    yield open_switch
    for esl, adapter in opened:
        await adapter.close()
        await esl.close()


async def next_event(events: AsyncIterator[SwitchEvent]) -> SwitchEvent:
    return await asyncio.wait_for(anext(events), WAIT_SECONDS)


async def collect_until(events: AsyncIterator[SwitchEvent], done: Callable[[SwitchEvent], bool]) -> list[SwitchEvent]:
    """Every event up to and including the first for which `done` is true."""

    async def collect() -> list[SwitchEvent]:
        seen: list[SwitchEvent] = []
        async for event in events:
            seen.append(event)
            if done(event):
                return seen
        raise AssertionError(f"events ended before the expected one: {seen}")

    return await asyncio.wait_for(collect(), WAIT_SECONDS)
